using System;
using System.IO;

namespace EcrCache.Tasks.Tests
{
    internal static class TestPaths
    {
        public static string RepoRoot { get; } = FindRepoRoot();

        private static readonly System.Collections.Concurrent.ConcurrentBag<string> Created = new System.Collections.Concurrent.ConcurrentBag<string>();

        /// <summary>A new folder under the temp path, deleted when the test run ends.</summary>
        public static string NewTempDirectory(string prefix = "ecrcache-test")
        {
            var dir = Path.Combine(Path.GetTempPath(), prefix + "-" + Guid.NewGuid().ToString("N").Substring(0, 12));
            Directory.CreateDirectory(dir);
            Created.Add(dir);
            return dir;
        }

        internal static void DeleteCreatedDirectories()
        {
            foreach (var dir in Created)
            {
                try
                {
                    if (Directory.Exists(dir))
                    {
                        Directory.Delete(dir, recursive: true);
                    }
                }
                catch (IOException)
                {
                    // Best effort: a file may still be held by a process the test started.
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }

        private static string FindRepoRoot()
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir != null && !File.Exists(Path.Combine(dir.FullName, "EcrCache.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("EcrCache.sln not found above " + AppContext.BaseDirectory);
        }
    }
}

namespace EcrCache.Tasks.Tests
{
    [TestClass]
    public static class TestRunCleanup
    {
        [AssemblyCleanup]
        public static void DeleteTempDirectories() => TestPaths.DeleteCreatedDirectories();
    }
}
