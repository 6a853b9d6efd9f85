using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using EcrCache.Docker;
using EcrCache.Processes;

namespace EcrCache.Tasks.Tests.Core
{
    /// <summary>The machine's real docker (started by build/start-services.sh), or Inconclusive when it is not there.</summary>
    internal static class RealDocker
    {
        public const string Executable = "/usr/bin/docker";

        /// <summary>Built by build/start-services.sh from busybox-static.</summary>
        public const string BaseImage = "ecrcache/busybox:1";

        private static readonly Lazy<string?> Unavailable = new Lazy<string?>(Probe, LazyThreadSafetyMode.ExecutionAndPublication);

        /// <summary>Marks the test Inconclusive unless docker answers and the base image is loaded.</summary>
        public static void Require()
        {
            var reason = Unavailable.Value;
            if (reason != null)
            {
                Assert.Inconclusive(reason);
            }
        }

        public static ProcessResult Run(params string[] arguments)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            return ProcessRunner.Instance.RunAsync(new ProcessSpec(Executable, arguments), cts.Token).GetAwaiter().GetResult();
        }

        /// <summary>Builds <see cref="BaseImage"/> with the label rev=<paramref name="revision"/> as <paramref name="reference"/> and pushes it.</summary>
        public static void BuildAndPush(string reference, string revision)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var spec = new ProcessSpec(Executable, new[] { "build", "-q", "-t", reference, "-" })
            {
                StandardInput = "FROM " + BaseImage + "\nLABEL rev=\"" + revision + "\"\n",
            };
            var build = ProcessRunner.Instance.RunAsync(spec, cts.Token).GetAwaiter().GetResult();
            Assert.AreEqual(0, build.ExitCode, build.StandardError);
            var push = Run("push", reference);
            Assert.AreEqual(0, push.ExitCode, push.StandardError);
        }

        /// <summary>The registry's manifest digest of a pushed image (its first RepoDigest).</summary>
        public static string RegistryDigest(string reference)
        {
            var repoDigest = Run("image", "inspect", "--format", "{{index .RepoDigests 0}}", reference).StandardOutput.Trim();
            return repoDigest.Substring(repoDigest.IndexOf('@') + 1);
        }

        public static bool ImageExists(string reference) => Run("image", "inspect", "--format", "{{.Id}}", reference).ExitCode == 0;

        /// <summary>Every repo:tag of <paramref name="repository"/> in the local daemon.</summary>
        public static IReadOnlyList<string> Tags(string repository) =>
            Run("images", "--format", "{{.Repository}}:{{.Tag}}", repository).StandardOutput
                .Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(l => !l.EndsWith(":<none>", StringComparison.Ordinal))
                .ToList();

        /// <summary>Removes every tag of the repository (best effort).</summary>
        public static void RemoveRepository(string repository)
        {
            var tags = Tags(repository);
            if (tags.Count > 0)
            {
                Run(new[] { "rmi", "--force" }.Concat(tags).ToArray());
            }
        }

        /// <summary>Command lines of running processes that contain <paramref name="text"/> (zombies have none).</summary>
        public static IReadOnlyList<string> ProcessesMentioning(string text)
        {
            var found = new List<string>();
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                var name = Path.GetFileName(dir);
                if (!name.All(char.IsDigit) || name == Environment.ProcessId.ToString())
                {
                    continue;
                }

                try
                {
                    var bytes = File.ReadAllBytes(Path.Combine(dir, "cmdline"));
                    var cmdline = Encoding.UTF8.GetString(bytes).Replace('\0', ' ');
                    if (cmdline.Contains(text, StringComparison.Ordinal))
                    {
                        found.Add(name + ": " + cmdline);
                    }
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    // The process ended while we looked.
                }
            }

            return found;
        }

        private static string? Probe()
        {
            if (OperatingSystem.IsWindows() || !File.Exists(Executable))
            {
                return Executable + " is not installed (run build/install-prereqs.sh and build/start-services.sh)";
            }

            try
            {
                var info = Run("info", "--format", "{{.ServerVersion}}");
                if (info.ExitCode != 0)
                {
                    return "docker info failed (start dockerd with build/start-services.sh): " + info.StandardError.Trim();
                }

                if (!ImageExists(BaseImage))
                {
                    return "the base image " + BaseImage + " is missing (build/start-services.sh creates it)";
                }
            }
            catch (Exception ex)
            {
                return "docker could not be run: " + ex.Message;
            }

            return null;
        }
    }
}
