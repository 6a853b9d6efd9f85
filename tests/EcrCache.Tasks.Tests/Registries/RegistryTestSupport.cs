using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using EcrCache.Diagnostics;
using EcrCache.Logging;

namespace EcrCache.Tasks.Tests.Registries
{
    /// <summary>Captures log lines so tests can check formats and that no secret is ever logged.</summary>
    internal sealed class RecordingLog : IBuildLog
    {
        private readonly ConcurrentQueue<string> _lines = new ConcurrentQueue<string>();

        public IReadOnlyList<string> Lines => _lines.ToArray();

        public string All => string.Join("\n", _lines);

        public void Info(string message) => _lines.Enqueue("info: " + message);

        public void Detail(string message) => _lines.Enqueue(message);

        public void Important(string message) => _lines.Enqueue("important: " + message);

        public void Warning(Diagnostic diagnostic) => _lines.Enqueue("warning: " + diagnostic);

        public void Error(Diagnostic diagnostic) => _lines.Enqueue("error: " + diagnostic);

        public void ToolError(string tool, string message) => _lines.Enqueue("tool error " + tool + ": " + message);

        public void AssertNoSecret(params string[] secrets)
        {
            var all = All;
            foreach (var secret in secrets)
            {
                Assert.IsFalse(all.Contains(secret, StringComparison.Ordinal), "a secret was logged:\n" + all);
            }
        }
    }

    /// <summary>
    /// The local registries started by build/start-services.sh: environment variables first, then
    /// /tmp/ecrcache-services/services.env; otherwise the test is inconclusive.
    /// </summary>
    internal static class TestServices
    {
        public const string ServicesEnvFile = "/tmp/ecrcache-services/services.env";

        public static string Registry => Require("ECRCACHE_TEST_REGISTRY", isAddress: true);

        public static string AuthRegistry => Require("ECRCACHE_TEST_AUTH_REGISTRY", isAddress: true);

        public static string AuthUser => Require("ECRCACHE_TEST_AUTH_USER");

        public static string AuthPassword => Require("ECRCACHE_TEST_AUTH_PASSWORD");

        public static string Require(string name, bool isAddress = false)
        {
            var value = Environment.GetEnvironmentVariable(name);
            if (!string.IsNullOrEmpty(value))
            {
                return value;
            }

            var fromFile = ReadServicesEnv().TryGetValue(name, out var v) ? v : null;
            if (string.IsNullOrEmpty(fromFile))
            {
                Assert.Inconclusive($"{name} is not set and {ServicesEnvFile} does not define it; start the local registries with 'bash build/start-services.sh' (or run build/test.sh).");
            }

            if (isAddress && !IsListening(fromFile!))
            {
                Assert.Inconclusive($"{ServicesEnvFile} names {name}={fromFile}, but nothing listens there (stale file?); start the local registries with 'bash build/start-services.sh'.");
            }

            return fromFile!;
        }

        private static Dictionary<string, string> ReadServicesEnv()
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            if (!File.Exists(ServicesEnvFile))
            {
                return values;
            }

            foreach (var raw in File.ReadAllLines(ServicesEnvFile))
            {
                var line = raw.Trim();
                if (line.Length == 0 || line.StartsWith('#'))
                {
                    continue;
                }

                if (line.StartsWith("export ", StringComparison.Ordinal))
                {
                    line = line.Substring("export ".Length).Trim();
                }

                var eq = line.IndexOf('=');
                if (eq <= 0)
                {
                    continue;
                }

                var value = line.Substring(eq + 1).Trim();
                if (value.Length >= 2 && (value[0] == '\'' || value[0] == '"') && value[^1] == value[0])
                {
                    value = value.Substring(1, value.Length - 2);
                }

                values[line.Substring(0, eq)] = value;
            }

            return values;
        }

        private static bool IsListening(string hostAndPort)
        {
            var colon = hostAndPort.LastIndexOf(':');
            if (colon < 0 || !int.TryParse(hostAndPort.AsSpan(colon + 1), out var port))
            {
                return true;
            }

            try
            {
                using var client = new TcpClient();
                return client.ConnectAsync(hostAndPort.Substring(0, colon).Trim('[', ']'), port).Wait(TimeSpan.FromSeconds(2)) && client.Connected;
            }
            catch (Exception)
            {
                return false;
            }
        }
    }

    internal static class Ports
    {
        /// <summary>A loopback port that nothing listens on (right now).</summary>
        public static int Free()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            return port;
        }
    }
}
