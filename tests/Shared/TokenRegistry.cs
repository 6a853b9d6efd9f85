using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace EcrCache.TestSupport
{
    /// <summary>
    /// A real docker-registry of the test's own on 127.0.0.1 (started and stopped by the test; the shared registries of
    /// build/start-services.sh are never touched), with htpasswd basic auth for exactly one login: user
    /// <c>oauth2accesstoken</c> and a given access token as the password, as Google's registries take it. The bcrypt
    /// hash is made as start-services.sh makes it (htpasswd, else Python's crypt).
    /// </summary>
    public sealed class TokenRegistry : IDisposable
    {
        public const string User = "oauth2accesstoken";
        public const string RegistryBinary = "/usr/bin/docker-registry";

        private readonly Process _process;
        private readonly string _directory;

        private TokenRegistry(Process process, string directory, string host)
        {
            _process = process;
            _directory = directory;
            Host = host;
        }

        /// <summary>127.0.0.1:port.</summary>
        public string Host { get; }

        public string LogPath => Path.Combine(_directory, "registry.log");

        /// <summary>Starts the registry, or returns null with the reason (no docker-registry, no bcrypt tool).</summary>
        public static TokenRegistry? TryStart(string password, out string? reason)
        {
            reason = null;
            if (!File.Exists(RegistryBinary))
            {
                reason = RegistryBinary + " is not installed (build/install-prereqs.sh installs it)";
                return null;
            }

            var hash = Bcrypt(password);
            if (hash == null)
            {
                reason = "neither htpasswd nor Python's crypt can make a bcrypt hash (install apache2-utils)";
                return null;
            }

            var directory = Path.Combine(Path.GetTempPath(), "ecrcache-gar-registry-" + Guid.NewGuid().ToString("N").Substring(0, 10));
            Directory.CreateDirectory(directory);
            File.WriteAllText(Path.Combine(directory, "htpasswd"), User + ":" + hash + "\n");
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var port = FakeGoogleCloud.FreePort();
                var host = "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);
                File.WriteAllText(Path.Combine(directory, "config.yml"), string.Join("\n", new[]
                {
                    "version: 0.1",
                    "log:",
                    "  level: info",
                    "storage:",
                    "  filesystem:",
                    "    rootdirectory: " + Path.Combine(directory, "storage"),
                    "  delete:",
                    "    enabled: true",
                    "http:",
                    "  addr: " + host,
                    "  secret: " + Guid.NewGuid().ToString("N"),
                    "auth:",
                    "  htpasswd:",
                    "    realm: fake-artifact-registry",
                    "    path: " + Path.Combine(directory, "htpasswd"),
                    string.Empty,
                }));
                var info = new ProcessStartInfo(RegistryBinary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                info.ArgumentList.Add("serve");
                info.ArgumentList.Add(Path.Combine(directory, "config.yml"));
                var process = Process.Start(info)!;
                var log = new StreamWriter(Path.Combine(directory, "registry.log")) { AutoFlush = true };
                process.OutputDataReceived += (_, e) => { if (e.Data != null) { lock (log) { log.WriteLine(e.Data); } } };
                process.ErrorDataReceived += (_, e) => { if (e.Data != null) { lock (log) { log.WriteLine(e.Data); } } };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                var registry = new TokenRegistry(process, directory, host);
                if (registry.WaitUntilUp(TimeSpan.FromSeconds(20)))
                {
                    return registry;
                }

                registry.Stop(deleteFiles: false);
            }

            reason = "docker-registry did not come up; see " + Path.Combine(directory, "registry.log");
            return null;
        }

        /// <summary>HTTP status of HEAD /v2/&lt;repository&gt;/manifests/&lt;tag&gt; with the given password (null: anonymous).</summary>
        public int HeadManifest(string repository, string tag, string? password)
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            using var request = new HttpRequestMessage(HttpMethod.Head, "http://" + Host + "/v2/" + repository + "/manifests/" + tag);
            request.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
            request.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
            if (password != null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(User + ":" + password)));
            }

            using var response = http.Send(request);
            return (int)response.StatusCode;
        }

        public void Dispose() => Stop(deleteFiles: true);

        private static string? Bcrypt(string password)
        {
            var htpasswd = new[] { "/usr/bin/htpasswd", "/usr/sbin/htpasswd" }.FirstOrDefault(File.Exists);
            if (htpasswd != null)
            {
                var line = Run(htpasswd, new[] { "-nbB", User, password });
                var colon = line?.IndexOf(':') ?? -1;
                if (colon > 0 && line!.Substring(colon + 1).StartsWith("$2", StringComparison.Ordinal))
                {
                    return line.Substring(colon + 1).Trim();
                }
            }

            var python = Run("python3", new[] { "-W", "ignore", "-c", "import crypt, sys; print(crypt.crypt(sys.stdin.readline().strip(), crypt.mksalt(crypt.METHOD_BLOWFISH)))" }, password + "\n");
            return python != null && python.StartsWith("$2", StringComparison.Ordinal) ? python.Trim() : null;
        }

        private static string? Run(string file, string[] arguments, string? input = null)
        {
            try
            {
                var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
                foreach (var argument in arguments)
                {
                    info.ArgumentList.Add(argument);
                }

                using var process = Process.Start(info)!;
                if (input != null)
                {
                    process.StandardInput.Write(input);
                }

                process.StandardInput.Close();
                var output = process.StandardOutput.ReadToEnd();
                process.WaitForExit(30000);
                return process.ExitCode == 0 ? output.Split('\n')[0] : null;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return null;
            }
        }

        private bool WaitUntilUp(TimeSpan limit)
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < limit && !_process.HasExited)
            {
                try
                {
                    using var response = http.GetAsync("http://" + Host + "/v2/").GetAwaiter().GetResult();
                    if ((int)response.StatusCode == 401)
                    {
                        return true;
                    }
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException)
                {
                }

                Thread.Sleep(200);
            }

            return false;
        }

        private void Stop(bool deleteFiles)
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(10000);
                }
            }
            catch (InvalidOperationException)
            {
            }

            _process.Dispose();
            if (deleteFiles)
            {
                try
                {
                    Directory.Delete(_directory, recursive: true);
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }
    }
}
