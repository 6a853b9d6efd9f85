using System;
using System.IO;

namespace EcrCache.Tasks.Tests
{
    internal static class TestPaths
    {
        public static string RepoRoot { get; } = FindRepoRoot();

        public static string NewTempDirectory(string prefix = "ecrcache-test")
        {
            var dir = Path.Combine(Path.GetTempPath(), prefix + "-" + Guid.NewGuid().ToString("N").Substring(0, 12));
            Directory.CreateDirectory(dir);
            return dir;
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
