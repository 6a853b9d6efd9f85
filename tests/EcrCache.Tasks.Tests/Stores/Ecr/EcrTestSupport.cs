using System.Diagnostics;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using EcrCache.Logging;
using EcrCache.Stores.Ecr;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Stores.Ecr
{
    /// <summary>The moto_server started by build/start-services.sh, and helpers to read state back from it.</summary>
    internal static class Moto
    {
        public static readonly AwsCredentials TestCredentials = new AwsCredentials("testing", "testing");

        /// <summary>http://127.0.0.1:port of the shared moto_server, or Inconclusive.</summary>
        public static string Endpoint => Boto3.RequireMoto(TestServices.Require("ECRCACHE_TEST_MOTO_ENDPOINT"));

        public static string ServerExecutable => TestServices.Require("ECRCACHE_TEST_MOTO_SERVER");

        /// <summary>An environment with fake AWS credentials, the endpoint, and whatever else is given.</summary>
        public static Func<string, string?> Environment(string endpoint, IDictionary<string, string>? extra = null)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["AWS_ACCESS_KEY_ID"] = "testing",
                ["AWS_SECRET_ACCESS_KEY"] = "testing",
                ["AWS_ENDPOINT_URL"] = endpoint,
                ["HOME"] = Path.Combine(Path.GetTempPath(), "ecrcache-no-home-" + Guid.NewGuid().ToString("N")),
                ["PATH"] = System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin",
            };
            if (extra != null)
            {
                foreach (var pair in extra)
                {
                    values[pair.Key] = pair.Value;
                }
            }

            return name => values.TryGetValue(name, out var value) ? value : null;
        }

        public static EcrClient Client(string endpoint, string region, IBuildLog? log = null, AwsCredentials? credentials = null) =>
            new EcrClient(
                new EcrSettings(region, "test", new Uri(endpoint.TrimEnd('/') + "/"), "test"),
                new StaticAwsCredentialSource(credentials ?? TestCredentials),
                log ?? NullBuildLog.Instance)
            { BackoffBase = TimeSpan.FromMilliseconds(10) };

        public static string UniqueRepository(string prefix = "build-cache/ecr-test") => prefix + "-" + Guid.NewGuid().ToString("N").Substring(0, 12);

        /// <summary>A raw signed ECR JSON call (for read-backs the product client does not offer).</summary>
        public static async Task<JsonDocument> CallAsync(string endpoint, string region, string operation, string json)
        {
            var uri = new Uri(endpoint.TrimEnd('/') + "/");
            var body = Encoding.UTF8.GetBytes(json);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
            {
                ["host"] = uri.Authority,
                ["content-type"] = EcrClient.ContentType,
                ["x-amz-target"] = EcrClient.TargetPrefix + operation,
            };
            var authorization = SigV4.Sign("POST", uri, headers, body, region, "ecr", TestCredentials, DateTime.UtcNow);
            using var http = new HttpClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(body) };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", EcrClient.ContentType);
            request.Headers.TryAddWithoutValidation("x-amz-target", headers["x-amz-target"]);
            request.Headers.TryAddWithoutValidation("x-amz-date", headers["x-amz-date"]);
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.IsTrue(response.IsSuccessStatusCode, operation + " failed: " + (int)response.StatusCode + " " + text);
            return JsonDocument.Parse(text);
        }

        public static async Task<Dictionary<string, string>> TagsAsync(string endpoint, string region, string arn)
        {
            using var doc = await CallAsync(endpoint, region, "ListTagsForResource", JsonSerializer.Serialize(new { resourceArn = arn }));
            return doc.RootElement.GetProperty("tags").EnumerateArray()
                .ToDictionary(t => t.GetProperty("Key").GetString()!, t => t.GetProperty("Value").GetString()!);
        }
    }

    /// <summary>A moto_server of a test's own (for IAM enforcement); killed by pid on dispose.</summary>
    internal sealed class OwnMotoServer : IDisposable
    {
        private readonly Process _process;

        private OwnMotoServer(Process process, string endpoint)
        {
            _process = process;
            Endpoint = endpoint;
        }

        public string Endpoint { get; }

        public static OwnMotoServer Start(IDictionary<string, string> environment)
        {
            var executable = Moto.ServerExecutable;
            var port = Ports.Free();
            var info = new ProcessStartInfo(executable)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            info.ArgumentList.Add("-H");
            info.ArgumentList.Add("127.0.0.1");
            info.ArgumentList.Add("-p");
            info.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (var pair in environment)
            {
                info.Environment[pair.Key] = pair.Value;
            }

            var process = Process.Start(info)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var server = new OwnMotoServer(process, "http://127.0.0.1:" + port);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline)
            {
                if (process.HasExited)
                {
                    Assert.Inconclusive("moto_server exited at start (exit code " + process.ExitCode + ")");
                }

                if (Boto3.IsListening("127.0.0.1", port))
                {
                    return server;
                }

                Thread.Sleep(200);
            }

            server.Dispose();
            Assert.Inconclusive("moto_server did not listen on port " + port + " within 60 s");
            return server;
        }

        public void Dispose()
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
        }
    }
}
