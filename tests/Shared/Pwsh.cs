using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace EcrCache.TestSupport
{
    /// <summary>
    /// PowerShell 7 (<c>pwsh</c>), installed by build/install-prereqs.sh as a .NET tool, to dot-source the
    /// <c>image.env.ps1</c> file the way a Windows agent's PowerShell hook does and read the variables back.
    /// </summary>
    public static class Pwsh
    {
        /// <summary>Where build/install-prereqs.sh installs it (build/lib.sh: ECRCACHE_TOOLS_DIR).</summary>
        public const string DefaultPath = "/opt/ecrcache-tools/pwsh";

        private const string ServicesEnvFile = "/tmp/ecrcache-services/services.env";

        // Prints "NAME <base64 of the UTF-8 value>" or "NAME -" (unset) per name: base64 keeps newlines, quotes and
        // non-ASCII exact whatever the console encoding.
        private const string ReaderScript =
            "$ErrorActionPreference = 'Stop'\n" +
            ". $args[0]\n" +
            "foreach ($n in $args[1..($args.Count - 1)]) {\n" +
            "  $v = [Environment]::GetEnvironmentVariable($n)\n" +
            "  if ($null -eq $v) { [Console]::Out.WriteLine($n + ' -') }\n" +
            "  else { [Console]::Out.WriteLine($n + ' ' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($v))) }\n" +
            "}\n";

        /// <summary>
        /// The pwsh to use: <c>ECRCACHE_TEST_PWSH</c> (environment, else services.env of build/start-services.sh), else
        /// <see cref="DefaultPath"/>, else <c>pwsh</c> on PATH. Missing, the test is inconclusive on a developer's machine
        /// and fails in CI (<c>CI=true</c>), where build/install-prereqs.sh must have installed it.
        /// </summary>
        public static string Require()
        {
            var candidates = new List<string?>
            {
                Environment.GetEnvironmentVariable("ECRCACHE_TEST_PWSH"),
                FromServicesEnv(),
                DefaultPath,
            };
            candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, "pwsh")));
            var found = candidates.FirstOrDefault(c => !string.IsNullOrEmpty(c) && File.Exists(c));
            if (found != null)
            {
                return found;
            }

            var message = "pwsh was not found (ECRCACHE_TEST_PWSH, " + DefaultPath + ", PATH); build/install-prereqs.sh installs it";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail(message);
            }

            Assert.Inconclusive(message);
            return "";
        }

        /// <summary>
        /// Dot-sources <paramref name="ps1"/> in a fresh <c>pwsh -NoProfile</c> (the path is passed as an argument,
        /// never parsed as code) and returns each variable's value, or null when it is not set.
        /// </summary>
        public static Dictionary<string, string?> DotSourceAndRead(string ps1, IEnumerable<string> names)
        {
            var pwsh = Require();
            var reader = Path.Combine(Path.GetTempPath(), "ecrc-pwsh-reader-" + Guid.NewGuid().ToString("N") + ".ps1");
            File.WriteAllText(reader, ReaderScript);
            try
            {
                var psi = new ProcessStartInfo(pwsh)
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                };
                foreach (var argument in new[] { "-NoLogo", "-NoProfile", "-NonInteractive", "-File", reader, ps1 }.Concat(names))
                {
                    psi.ArgumentList.Add(argument);
                }

                // No telemetry or update check from a test run.
                psi.Environment["POWERSHELL_TELEMETRY_OPTOUT"] = "1";
                psi.Environment["POWERSHELL_UPDATECHECK"] = "Off";
                using var process = Process.Start(psi)!;
                var stderr = process.StandardError.ReadToEndAsync();
                var stdout = process.StandardOutput.ReadToEnd();
                if (!process.WaitForExit(120_000))
                {
                    process.Kill(entireProcessTree: true);
                    Assert.Fail("pwsh did not finish");
                }

                Assert.AreEqual(0, process.ExitCode, "dot-sourcing " + ps1 + " with pwsh failed: " + stderr.Result + stdout);
                Assert.AreEqual("", stderr.Result, "pwsh wrote to stderr");
                var values = new Dictionary<string, string?>(StringComparer.Ordinal);
                foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    var parts = line.TrimEnd('\r').Split(' ');
                    values[parts[0]] = parts.Length < 2 || parts[1] == "-" ? null : Encoding.UTF8.GetString(Convert.FromBase64String(parts[1]));
                }

                return values;
            }
            finally
            {
                File.Delete(reader);
            }
        }

        private static string? FromServicesEnv()
        {
            var file = Environment.GetEnvironmentVariable("ECRCACHE_SERVICES_ENV") is { Length: > 0 } f ? f : ServicesEnvFile;
            if (!File.Exists(file))
            {
                return null;
            }

            foreach (var line in File.ReadAllLines(file))
            {
                var m = Regex.Match(line.Trim(), "^(?:export\\s+)?ECRCACHE_TEST_PWSH=(.*)$");
                if (m.Success)
                {
                    // Written with printf %q: a plain path needs no unquoting; a quoted one is 'single-quoted'.
                    return m.Groups[1].Value.Trim('\'');
                }
            }

            return null;
        }
    }
}
