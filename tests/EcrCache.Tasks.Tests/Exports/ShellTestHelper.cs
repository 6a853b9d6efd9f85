using System.Diagnostics;

namespace EcrCache.Tasks.Tests.Exports
{
    internal static class ShellTestHelper
    {
        /// <summary>Runs <c>shell -c script</c> and returns its exact stdout bytes (no line splitting).</summary>
        public static (int ExitCode, byte[] Stdout, string Stderr) Run(string shell, string script)
        {
            var full = FindOnPath(shell) ?? throw new AssertInconclusiveException(shell + " is not installed");
            var psi = new ProcessStartInfo(full)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(script);
            using var process = Process.Start(psi)!;
            var stderr = process.StandardError.ReadToEndAsync();
            using var stdout = new MemoryStream();
            process.StandardOutput.BaseStream.CopyTo(stdout);
            if (!process.WaitForExit(30_000))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail(shell + " did not finish");
            }

            return (process.ExitCode, stdout.ToArray(), stderr.Result);
        }

        public static string? FindOnPath(string name)
        {
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }

            return null;
        }
    }
}
