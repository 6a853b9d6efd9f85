using System.Text.Json;
using EcrCache.Diagnostics;
using EcrCache.Exports;

namespace EcrCache.Tasks.Tests.Exports
{
    /// <summary>
    /// The Job API client against <see cref="FakeJobApiServer"/>: no real Buildkite agent runs on the test machines,
    /// so a fake HTTP/1.1 server on a unix socket in a temp directory plays its part.
    /// </summary>
    [TestClass]
    public sealed class BuildkiteJobApiTests
    {
        private const string Token = "s3cr3t-job-api-token";

        private static string NewSocketPath()
        {
            // Unix socket paths are limited to about 108 bytes; TestPaths temp directories are well below that.
            return Path.Combine(TestPaths.NewTempDirectory("ecrc-jobapi"), "job-api.sock");
        }

        [TestMethod]
        public void FromEnvironmentNeedsBothSocketAndToken()
        {
            var both = new Dictionary<string, string?>
            {
                ["BUILDKITE_AGENT_JOB_API_SOCKET"] = "/tmp/agent.sock",
                ["BUILDKITE_AGENT_JOB_API_TOKEN"] = Token,
            };
            var api = BuildkiteJobApi.FromEnvironment(n => both.TryGetValue(n, out var v) ? v : null);
            Assert.IsNotNull(api);
            Assert.AreEqual("/tmp/agent.sock", api.SocketPath);
            Assert.IsFalse(api.ToString().Contains(Token, StringComparison.Ordinal), "ToString must not show the token");

            Assert.IsNull(BuildkiteJobApi.FromEnvironment(n => n == "BUILDKITE_AGENT_JOB_API_SOCKET" ? "/tmp/agent.sock" : null));
            Assert.IsNull(BuildkiteJobApi.FromEnvironment(n => n == "BUILDKITE_AGENT_JOB_API_TOKEN" ? Token : null));
            Assert.IsNull(BuildkiteJobApi.FromEnvironment(n => n == "BUILDKITE_AGENT_JOB_API_TOKEN" ? Token : string.Empty));
            Assert.IsNull(BuildkiteJobApi.FromEnvironment(_ => null));
        }

        [TestMethod]
        public async Task SetEnvSendsAuthenticatedPatchWithJsonBody()
        {
            using var server = new FakeJobApiServer(NewSocketPath(), 200, "{\"added\":[\"IMAGE\"],\"updated\":[\"TAG\"]}\n");
            var api = new BuildkiteJobApi(server.SocketPath, Token);
            var variables = new Dictionary<string, string>
            {
                ["IMAGE"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/build-cache/app:0123abcd",
                ["TAG"] = "0123abcd",
                ["ODD"] = "quote \" backslash \\ newline \n unicode ✓ 🐳",
            };

            await api.SetEnvAsync(variables, CancellationToken.None);

            var request = await server.GetRequestAsync();
            Assert.AreEqual("PATCH", request.Method);
            Assert.AreEqual("/api/current-job/v0/env", request.Target);
            Assert.AreEqual("HTTP/1.1", request.Version);
            Assert.AreEqual("Bearer " + Token, request.Headers["Authorization"]);
            StringAssert.StartsWith(request.Headers["Content-Type"], "application/json");

            using var json = JsonDocument.Parse(request.Body);
            Assert.AreEqual(1, json.RootElement.EnumerateObject().Count(), "the body holds only \"env\"");
            var env = json.RootElement.GetProperty("env");
            Assert.AreEqual(JsonValueKind.Object, env.ValueKind);
            var sent = env.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
            CollectionAssert.AreEquivalent(variables.ToList(), sent.ToList());
        }

        [TestMethod]
        public async Task UnauthorizedMapsToJobApiFailedWithoutTheToken()
        {
            using var server = new FakeJobApiServer(NewSocketPath(), 401, "{\"error\":\"invalid authorization token\"}\n");
            var api = new BuildkiteJobApi(server.SocketPath, Token);

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(
                () => api.SetEnvAsync(new Dictionary<string, string> { ["IMAGE"] = "repo:tag" }, CancellationToken.None));

            Assert.AreEqual("ECRC1402", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, server.SocketPath);
            StringAssert.Contains(ex.Diagnostic.Message, "HTTP 401: {\"error\":\"invalid authorization token\"}");
            Assert.IsFalse(ex.ToString().Contains(Token, StringComparison.Ordinal), "the token must never appear in errors");
            Assert.AreEqual(1, server.Connections);
        }

        [TestMethod]
        public async Task LongErrorBodiesAreCutTo200Characters()
        {
            var body = "{\"error\":\"" + new string('x', 500) + "\"}";
            using var server = new FakeJobApiServer(NewSocketPath(), 422, body);
            var api = new BuildkiteJobApi(server.SocketPath, Token);

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(
                () => api.SetEnvAsync(new Dictionary<string, string> { ["BUILDKITE_AGENT_ACCESS_TOKEN"] = "x" }, CancellationToken.None));

            StringAssert.Contains(ex.Diagnostic.Message, "HTTP 422: " + body.Substring(0, 200) + ".");
            Assert.IsFalse(ex.Diagnostic.Message.Contains(body.Substring(0, 201), StringComparison.Ordinal));
        }

        [TestMethod]
        public async Task MissingSocketMapsToJobApiFailed()
        {
            var api = new BuildkiteJobApi(NewSocketPath(), Token);

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(
                () => api.SetEnvAsync(new Dictionary<string, string> { ["IMAGE"] = "repo:tag" }, CancellationToken.None));

            Assert.AreEqual("ECRC1402", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, api.SocketPath);
            Assert.IsFalse(ex.ToString().Contains(Token, StringComparison.Ordinal));
        }

        [TestMethod]
        public async Task FailureHintBlamesReachabilityNotTheAgentVersion()
        {
            // ECRC1402 is only raised when the agent set the socket variables, so it does support the Job API.
            var api = new BuildkiteJobApi(NewSocketPath(), Token);

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(
                () => api.SetEnvAsync(new Dictionary<string, string> { ["IMAGE"] = "repo:tag" }, CancellationToken.None));

            var message = ex.Diagnostic.Message;
            Assert.IsFalse(message.Contains("3.64", StringComparison.Ordinal), "the agent version is not the cause: " + message);
            StringAssert.Contains(message, "not reachable");
            StringAssert.Contains(message, "container");
            StringAssert.Contains(message, "in time");
            StringAssert.Contains(message, "source the env file", StringComparison.OrdinalIgnoreCase);
        }

        [TestMethod]
        public void AbsenceNamesTheVariablesAndTheUsualCauses()
        {
            var none = BuildkiteJobApi.DescribeAbsence(_ => null);
            StringAssert.Contains(none, "BUILDKITE_AGENT_JOB_API_SOCKET and BUILDKITE_AGENT_JOB_API_TOKEN are not set");
            StringAssert.Contains(none, "--no-job-api");
            StringAssert.Contains(none, "3.64");
            Assert.IsFalse(none.Contains('\n', StringComparison.Ordinal), "one line");

            var socketOnly = BuildkiteJobApi.DescribeAbsence(n => n == "BUILDKITE_AGENT_JOB_API_SOCKET" ? "/tmp/agent.sock" : null);
            StringAssert.Contains(socketOnly, "BUILDKITE_AGENT_JOB_API_TOKEN is not set (only BUILDKITE_AGENT_JOB_API_SOCKET is)");
            var tokenOnly = BuildkiteJobApi.DescribeAbsence(n => n == "BUILDKITE_AGENT_JOB_API_TOKEN" ? Token : null);
            StringAssert.Contains(tokenOnly, "BUILDKITE_AGENT_JOB_API_SOCKET is not set (only BUILDKITE_AGENT_JOB_API_TOKEN is)");
            Assert.IsFalse(tokenOnly.Contains(Token, StringComparison.Ordinal), "the token value must not be logged");
        }

        [TestMethod]
        public async Task NoAnswerTimesOut()
        {
            using var server = new FakeJobApiServer(NewSocketPath(), 200, "{}", neverAnswer: true);
            var api = new BuildkiteJobApi(server.SocketPath, Token) { Timeout = TimeSpan.FromMilliseconds(300) };

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(
                () => api.SetEnvAsync(new Dictionary<string, string> { ["IMAGE"] = "repo:tag" }, CancellationToken.None));

            Assert.AreEqual("ECRC1402", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, "no answer within 0.3 s");
        }

        [TestMethod]
        public async Task CancellationIsNotReportedAsAFailure()
        {
            using var server = new FakeJobApiServer(NewSocketPath(), 200, "{}", neverAnswer: true);
            var api = new BuildkiteJobApi(server.SocketPath, Token);
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

            try
            {
                await api.SetEnvAsync(new Dictionary<string, string> { ["IMAGE"] = "repo:tag" }, cts.Token);
                Assert.Fail("expected cancellation");
            }
            catch (OperationCanceledException)
            {
            }
        }

        [TestMethod]
        public async Task NothingToSetSendsNothing()
        {
            using var server = new FakeJobApiServer(NewSocketPath(), 500, "{}");
            var api = new BuildkiteJobApi(server.SocketPath, Token);

            await api.SetEnvAsync(new Dictionary<string, string>(), CancellationToken.None);

            await Task.Delay(100);
            Assert.AreEqual(0, server.Connections);
        }

        [TestMethod]
        public void RequestBodyIsEnvObject()
        {
            var body = BuildkiteJobApi.BuildEnvRequestBody(new Dictionary<string, string> { ["A"] = "1", ["B"] = "x\"y" });
            Assert.AreEqual("{\"env\":{\"A\":\"1\",\"B\":\"x\\u0022y\"}}", System.Text.Encoding.UTF8.GetString(body));
        }
    }
}
