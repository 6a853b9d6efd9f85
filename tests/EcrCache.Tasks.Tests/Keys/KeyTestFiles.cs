using System.Text;
using EcrCache.Keys;

namespace EcrCache.Tasks.Tests.Keys
{
    /// <summary>A temporary folder with helpers to write files and build <see cref="KeyInputs"/>.</summary>
    internal sealed class KeyTestFiles : IDisposable
    {
        public KeyTestFiles()
        {
            Root = TestPaths.NewTempDirectory("ecrcache-keys");
        }

        public string Root { get; }

        public string Write(string relativePath, string text) => WriteBytes(relativePath, Encoding.UTF8.GetBytes(text));

        public string WriteBytes(string relativePath, byte[] bytes)
        {
            var full = FullPath(relativePath);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, bytes);
            return full;
        }

        public string FullPath(string relativePath) =>
            Path.Combine(Root, relativePath.Replace('\\', Path.DirectorySeparatorChar).Replace('/', Path.DirectorySeparatorChar));

        public CacheOnInput CacheOn(string relativePath, string? jsonPath = null) =>
            new CacheOnInput(FullPath(relativePath), relativePath, jsonPath);

        public void Dispose()
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
