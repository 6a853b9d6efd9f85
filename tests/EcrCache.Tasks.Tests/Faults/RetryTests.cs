using System.Diagnostics;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Http;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Tasks.Tests.Core;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Faults
{
    /// <summary>A process runner that answers each call of a command with the next scripted result.</summary>
    internal sealed class SequenceRunner : IProcessRunner
    {
        private readonly Queue<(int Exit, string Stdout, string Stderr)> _results = new();

        public int Calls { get; private set; }

        public SequenceRunner Then(int exit, string stdout = "", string stderr = "")
        {
            _results.Enqueue((exit, stdout, stderr));
            return this;
        }

        public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Calls++;
            var (exit, stdout, stderr) = _results.Count > 1 ? _results.Dequeue() : _results.Peek();
            foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                spec.OnStandardOutput?.Invoke(line);
            }

            foreach (var line in stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                spec.OnStandardError?.Invoke(line);
            }

            return Task.FromResult(new ProcessResult(exit, stdout, stderr));
        }
    }

    [TestClass]
    public sealed class RetryTests
    {
        private static HttpRetryPolicy Fast(int attempts = 5, double deadlineSeconds = 10) => new HttpRetryPolicy
        {
            MaxAttempts = attempts,
            BaseDelay = TimeSpan.FromMilliseconds(10),
            MaxDelay = TimeSpan.FromMilliseconds(50),
            Deadline = TimeSpan.FromSeconds(deadlineSeconds),
        };

        private static async Task<(HttpResponseMessage Response, FakeHandler Handler)> SendAsync(HttpRetryPolicy policy, Func<int, HttpResponseMessage> answer, HttpContent? content = null, List<string>? retries = null)
        {
            var calls = 0;
            var handler = new FakeHandler(_ => answer(Interlocked.Increment(ref calls)));
            using var client = HttpClients.Create(handler, retry: policy, onRetry: m => retries?.Add(m));
            using var request = new HttpRequestMessage(content == null ? HttpMethod.Get : HttpMethod.Put, "http://registry.example.com/v2/app/manifests/1?secret=query") { Content = content };
            var response = await client.SendAsync(request);
            return (response, handler);
        }

        [TestMethod]
        [DataRow(429)]
        [DataRow(500)]
        [DataRow(502)]
        [DataRow(503)]
        [DataRow(504)]
        [DataRow(408)]
        public async Task RetryableStatus_IsRetried_UntilItSucceeds(int status)
        {
            var retries = new List<string>();
            var (response, handler) = await SendAsync(Fast(), n => FakeHandler.Status(n < 3 ? status : 200, "ok"), retries: retries);
            Assert.AreEqual(200, (int)response.StatusCode);
            Assert.AreEqual(3, handler.Sent.Count);
            Assert.AreEqual(2, retries.Count);
            StringAssert.Contains(retries[0], "HTTP " + status);
            Assert.IsFalse(retries.Any(r => r.Contains("secret=query", StringComparison.Ordinal)), "retry messages never show the query: " + string.Join("\n", retries));
        }

        [TestMethod]
        [DataRow(400)]
        [DataRow(401)]
        [DataRow(403)]
        [DataRow(404)]
        [DataRow(501)]
        public async Task NonRetryableStatus_IsReturnedAtOnce(int status)
        {
            var (response, handler) = await SendAsync(Fast(), _ => FakeHandler.Status(status));
            Assert.AreEqual(status, (int)response.StatusCode);
            Assert.AreEqual(1, handler.Sent.Count);
        }

        [TestMethod]
        public async Task ConnectionFailures_AreRetried()
        {
            var calls = 0;
            var handler = new FakeHandler((_, _) => Interlocked.Increment(ref calls) < 3
                ? Task.FromException<HttpResponseMessage>(new HttpRequestException("Connection reset by peer", new IOException("reset")))
                : Task.FromResult(FakeHandler.Status(200)));
            using var client = HttpClients.Create(handler, retry: Fast());
            using var response = await client.GetAsync("http://registry.example.com/v2/");
            Assert.AreEqual(200, (int)response.StatusCode);
            Assert.AreEqual(3, calls);
        }

        [TestMethod]
        public async Task TlsFailures_AreNotRetried()
        {
            var calls = 0;
            var handler = new FakeHandler((_, _) =>
            {
                Interlocked.Increment(ref calls);
                return Task.FromException<HttpResponseMessage>(new HttpRequestException("ssl", new System.Security.Authentication.AuthenticationException("bad certificate")));
            });
            using var client = HttpClients.Create(handler, retry: Fast());
            await Assert.ThrowsExactlyAsync<HttpRequestException>(() => client.GetAsync("https://registry.example.com/v2/"));
            Assert.AreEqual(1, calls);
        }

        [TestMethod]
        public async Task RetryAfter_IsHonoured()
        {
            var clock = Stopwatch.StartNew();
            var (response, handler) = await SendAsync(Fast(), n =>
            {
                var r = FakeHandler.Status(n == 1 ? 429 : 200);
                if (n == 1)
                {
                    r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(1));
                }

                return r;
            });
            Assert.AreEqual(200, (int)response.StatusCode);
            Assert.AreEqual(2, handler.Sent.Count);

            // Correctness, not speed: the policy's own backoff here is at most 50 ms, so only Retry-After explains 1 s.
            Assert.IsTrue(clock.Elapsed >= TimeSpan.FromMilliseconds(900), "waited " + clock.ElapsedMilliseconds + " ms");
        }

        [TestMethod]
        public async Task Attempts_AreBoundedByMaxAttempts_AndTheLastAnswerIsReturned()
        {
            var (response, handler) = await SendAsync(Fast(attempts: 4), _ => FakeHandler.Status(503));
            Assert.AreEqual(503, (int)response.StatusCode);
            Assert.AreEqual(4, handler.Sent.Count);
        }

        [TestMethod]
        public async Task TheDeadline_StopsRetrying()
        {
            var policy = new HttpRetryPolicy { MaxAttempts = 100, BaseDelay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromMilliseconds(200), Deadline = TimeSpan.FromMilliseconds(300) };
            var retries = new List<string>();
            var (response, handler) = await SendAsync(policy, _ => FakeHandler.Status(503), retries: retries);
            Assert.AreEqual(503, (int)response.StatusCode);
            Assert.IsTrue(handler.Sent.Count < 100, "the deadline ends the retries long before 100 attempts: " + handler.Sent.Count);
            StringAssert.Contains(retries.Last(), "giving up");
        }

        [TestMethod]
        public async Task BufferedBodies_AreReplayed_StreamedBodiesAreNot()
        {
            var bodies = new List<string>();
            var handler = new FakeHandler((request, _) =>
            {
                bodies.Add(request.Content!.ReadAsStringAsync().GetAwaiter().GetResult());
                return Task.FromResult(FakeHandler.Status(bodies.Count < 2 ? 503 : 201));
            });
            using (var client = HttpClients.Create(handler, retry: Fast()))
            {
                using var response = await client.PutAsync("http://r.example.com/x", new ByteArrayContent(new byte[] { 65, 66 }));
                Assert.AreEqual(201, (int)response.StatusCode);
            }

            CollectionAssert.AreEqual(new[] { "AB", "AB" }, bodies, "the same bytes on every attempt");

            bodies.Clear();
            using (var client = HttpClients.Create(handler, retry: Fast()))
            {
                using var response = await client.PutAsync("http://r.example.com/x", new StreamContent(new MemoryStream(new byte[] { 65 })));
                Assert.AreEqual(503, (int)response.StatusCode, "a stream cannot be sent twice: the failure is returned");
            }

            Assert.AreEqual(1, bodies.Count);
        }

        [TestMethod]
        public async Task AHungAttempt_TimesOut_IsRetried_AndTheLastOneIsAnHttpRequestException()
        {
            var policy = Fast(attempts: 3);
            policy.AttemptTimeout = TimeSpan.FromMilliseconds(100);
            var retries = new List<string>();
            var calls = 0;
            var handler = new FakeHandler(async (_, token) =>
            {
                if (Interlocked.Increment(ref calls) < 2)
                {
                    await Task.Delay(Timeout.Infinite, token);
                }

                return FakeHandler.Status(200);
            });
            using (var client = HttpClients.Create(handler, retry: policy, onRetry: retries.Add))
            {
                using var response = await client.GetAsync("http://registry.example.com/v2/");
                Assert.AreEqual(200, (int)response.StatusCode);
            }

            Assert.AreEqual(2, calls);
            StringAssert.Contains(retries.Single(), "timed out; attempt 2 of 3");

            var hung = new FakeHandler(async (_, token) =>
            {
                await Task.Delay(Timeout.Infinite, token);
                return FakeHandler.Status(200);
            });
            using var always = HttpClients.Create(hung, retry: policy);
            var ex = await Assert.ThrowsExactlyAsync<HttpRequestException>(() => always.GetAsync("http://registry.example.com/v2/"));
            Assert.AreEqual("no response headers within 0.1 s", ex.Message);
            Assert.AreEqual(3, hung.Sent.Count);
        }

        [TestMethod]
        public async Task ARetryAfterPastTheDeadline_GivesUpAtOnce()
        {
            var clock = Stopwatch.StartNew();
            var retries = new List<string>();
            var (response, handler) = await SendAsync(Fast(deadlineSeconds: 2), _ =>
            {
                var r = FakeHandler.Status(503);
                r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(60));
                return r;
            }, retries: retries);
            Assert.AreEqual(503, (int)response.StatusCode);
            Assert.AreEqual(1, handler.Sent.Count);
            Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(2), "no sleep that would end after the deadline: " + clock.ElapsedMilliseconds + " ms");
            StringAssert.Contains(retries.Single(), "HTTP 503; giving up after 1 attempts");
        }

        [TestMethod]
        public async Task CancellingDuringAWait_StopsAtOnce()
        {
            using var cancel = new CancellationTokenSource();
            var policy = new HttpRetryPolicy { MaxAttempts = 3, BaseDelay = TimeSpan.FromSeconds(10), MaxDelay = TimeSpan.FromSeconds(10), Deadline = TimeSpan.FromMinutes(1) };
            var handler = new FakeHandler(_ => FakeHandler.Status(503));
            using var client = HttpClients.Create(handler, retry: policy, onRetry: _ => cancel.CancelAfter(50));
            var clock = Stopwatch.StartNew();
            await Assert.ThrowsAsync<OperationCanceledException>(() => client.GetAsync("http://registry.example.com/v2/", cancel.Token));
            Assert.AreEqual(1, handler.Sent.Count);
            Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(5), "the wait ends with the build: " + clock.ElapsedMilliseconds + " ms");
        }

        [TestMethod]
        public void Backoff_IsFullJitterUnderADoublingCeiling()
        {
            var draws = Enumerable.Range(0, 500).Select(_ => Resilience.Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), 0, 3)).ToList();
            Assert.IsTrue(draws.All(d => d >= TimeSpan.Zero && d <= TimeSpan.FromMilliseconds(400)), "attempt 3: [0, 100 ms x 2^2]");
            Assert.IsTrue(draws.Min() < TimeSpan.FromMilliseconds(100) && draws.Max() > TimeSpan.FromMilliseconds(300), "spread over the whole range");

            var capped = Enumerable.Range(0, 200).Select(_ => Resilience.Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), 0, 30)).ToList();
            Assert.IsTrue(capped.All(d => d <= TimeSpan.FromSeconds(1)), "never above the cap");

            // docker push/pull keeps at least half of the ceiling.
            var docker = Enumerable.Range(0, 200).Select(_ => Resilience.Backoff(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30), 0.5, 2)).ToList();
            Assert.IsTrue(docker.All(d => d >= TimeSpan.FromSeconds(2) && d <= TimeSpan.FromSeconds(4)), "attempt 2 from 2 s: [2 s, 4 s]");
        }

        [TestMethod]
        public void TransferTimeouts_ScaleWithSize()
        {
            Assert.AreEqual(TransferTimeout.Base, TransferTimeout.For(0));
            var gigabyte = TransferTimeout.For(1024L * 1024 * 1024);
            Assert.IsTrue(gigabyte > TimeSpan.FromMinutes(30), "1 GiB at the minimum rate takes over half an hour: " + gigabyte);
            Assert.IsTrue(TransferTimeout.For(10 * 1024 * 1024) > TimeSpan.FromSeconds(40));
        }

        // ---------------------------------------------------------------- docker push/pull

        [TestMethod]
        [DataRow("received unexpected HTTP status: 503 Service Unavailable", "Transient")]
        [DataRow("Put \"http://127.0.0.1:5000/v2/app/blobs/uploads/x\": read tcp 127.0.0.1:1->127.0.0.1:5000: read: connection reset by peer", "Transient")]
        [DataRow("toomanyrequests: You have reached your pull rate limit", "Transient")]
        [DataRow("net/http: TLS handshake timeout", "Transient")]
        [DataRow("unexpected EOF", "Transient")]
        [DataRow("unavailable: service unavailable", "Transient")]
        [DataRow("toomanyrequests: slow down", "Transient")]
        [DataRow("denied: requested access to the resource is denied", "Permanent")]
        [DataRow("unauthorized: authentication required", "Permanent")]
        [DataRow("Error response from daemon: manifest for app:1 not found: manifest unknown", "Permanent")]
        [DataRow("something nobody has seen before", "Permanent")]
        [DataRow("Cannot connect to the Docker daemon at unix:///tmp/x.sock. Is the docker daemon running?", "DaemonUnreachable")]
        [DataRow("error during connect: Post \"http://%2Fvar%2Frun%2Fdocker.sock/v1.41/images/create\": dial unix /var/run/docker.sock: connect: no such file or directory", "DaemonUnreachable")]
        public void DockerFailures_AreClassified(string stderr, string expected) =>
            Assert.AreEqual(expected, DockerRetry.Classify(stderr).ToString());

        private static DockerCli Cli(IProcessRunner runner, CapturingBuildLog log, int retries = 3) =>
            new DockerCli("/usr/bin/docker", runner, log) { Retries = retries, RetryBaseDelay = TimeSpan.FromMilliseconds(5), DaemonEnvironment = n => n == "DOCKER_HOST" ? "unix:///tmp/dead.sock" : null };

        [TestMethod]
        public async Task Push_TransientFailureThenSuccess_IsRetried_AndLeavesNoError()
        {
            var runner = new SequenceRunner()
                .Then(1, "The push refers to repository [r/app]\n", "error parsing HTTP 503 response body: received unexpected HTTP status: 503 Service Unavailable\n")
                .Then(0, "1: digest: sha256:00 size: 528\n");
            var log = new CapturingBuildLog();
            await Cli(runner, log).PushAsync("r/app:1", CancellationToken.None);
            Assert.AreEqual(2, runner.Calls);
            Assert.AreEqual(0, log.ToolErrors.Count, "a recovered push must not leave MSBuild errors: " + log.AllText);
            StringAssert.Contains(log.AllText, "retrying");
        }

        [TestMethod]
        public async Task Pull_TransientFailures_ExhaustTheRetries_ECRC1221()
        {
            var runner = new SequenceRunner().Then(1, "", "Error response from daemon: received unexpected HTTP status: 502 Bad Gateway\n");
            var log = new CapturingBuildLog();
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => Cli(runner, log, retries: 2).PullAsync("r/app:1", CancellationToken.None));
            Assert.AreEqual("ECRC1221", ex.Diagnostic.Code);
            Assert.AreEqual(3, runner.Calls, "1 attempt + 2 retries");
            StringAssert.Contains(ex.Message, "502 Bad Gateway");
            Assert.AreEqual(1, log.ToolErrors.Count, "the final attempt's error line is reported");
        }

        [TestMethod]
        public async Task Push_PermanentFailure_IsNotRetried()
        {
            var runner = new SequenceRunner().Then(1, "", "denied: requested access to the resource is denied\n");
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => Cli(runner, new CapturingBuildLog()).PushAsync("r/app:1", CancellationToken.None));
            Assert.AreEqual("ECRC1205", ex.Diagnostic.Code);
            Assert.AreEqual(1, runner.Calls);
        }

        [TestMethod]
        public async Task Pull_DaemonGone_ECRC1220_NamesTheDaemon()
        {
            var runner = new SequenceRunner().Then(1, "", "Cannot connect to the Docker daemon at unix:///tmp/dead.sock. Is the docker daemon running?\n");
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => Cli(runner, new CapturingBuildLog()).PullAsync("r/app:1", CancellationToken.None));
            Assert.AreEqual("ECRC1220", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "DOCKER_HOST=unix:///tmp/dead.sock");
            Assert.AreEqual(1, runner.Calls);
        }

        [TestMethod]
        public async Task Push_RetriesZero_TriesOnce()
        {
            var runner = new SequenceRunner().Then(1, "", "unexpected EOF\n");
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => Cli(runner, new CapturingBuildLog(), retries: 0).PushAsync("r/app:1", CancellationToken.None));
            Assert.AreEqual("ECRC1221", ex.Diagnostic.Code);
            Assert.AreEqual(1, runner.Calls);
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task RealDaemonAtADeadSocket_ECRC1202_NamesDockerHost()
        {
            // Never stop the shared dockerd: point the client at a socket nobody listens on instead.
            RealDocker.Require();
            var socket = "/tmp/ecrcache-dead-" + Guid.NewGuid().ToString("N").Substring(0, 8) + ".sock";
            var cli = new DockerCli(RealDocker.Executable, ProcessRunner.Instance, new CapturingBuildLog()) { DaemonEnvironment = n => n == "DOCKER_HOST" ? "unix://" + socket : null };
            cli.Environment["DOCKER_HOST"] = "unix://" + socket;
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => cli.GetVersionAsync(CancellationToken.None));
            Assert.AreEqual("ECRC1202", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "DOCKER_HOST=unix://" + socket);

            var pull = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => cli.PullAsync("127.0.0.1:1/app:1", CancellationToken.None));
            Assert.AreEqual("ECRC1220", pull.Diagnostic.Code);
            StringAssert.Contains(pull.Message, socket);
        }

        // ---------------------------------------------------------------- options

        private static RawOptions Raw(string dir, Action<RawOptions> configure)
        {
            var raw = new RawOptions { ProjectDirectory = dir, ProjectName = "p", ["DockerfileInline"] = "FROM scratch\n", Environment = _ => null };
            configure(raw);
            return raw;
        }

        [TestMethod]
        [DataRow(null, 3)]
        [DataRow("", 3)]
        [DataRow("0", 0)]
        [DataRow("10", 10)]
        public void DockerRetries_Parses(string? value, int expected)
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-rel");
            Assert.AreEqual(expected, OptionsParser.Parse(Raw(dir, r => r["DockerRetries"] = value), new CapturingBuildLog()).DockerRetries);
        }

        [TestMethod]
        [DataRow(null, 1800)]
        [DataRow("30", 1800)]
        [DataRow("0", 0)]
        [DataRow("00:00:05", 5)]
        [DataRow("1:00:00", 3600)]
        public void LeaseTimeout_Parses(string? value, int seconds)
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-rel");
            Assert.AreEqual(TimeSpan.FromSeconds(seconds), OptionsParser.Parse(Raw(dir, r => r["LeaseTimeout"] = value), new CapturingBuildLog()).LeaseTimeout);
        }

        [TestMethod]
        public void SecretLookingBuildArgs_Warn_UnlessAllowed()
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-rel");
            var log = new CapturingBuildLog();
            OptionsParser.Parse(Raw(dir, r =>
            {
                r.BuildArgs.Add(new RawItem("NPM_TOKEN", new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Value"] = "x" }));
                r.BuildArgs.Add(new RawItem("db_password", new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Value"] = "x" }));
                r.BuildArgs.Add(new RawItem("SSH_KEY_NAME", new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Value"] = "id_rsa", ["AllowSecretLookingName"] = "true" }));
                r.BuildArgs.Add(new RawItem("NODE_ENV", new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Value"] = "ci" }));
            }), log);
            var warnings = log.Warnings.Where(w => w.Code == "ECRC1040").ToList();
            Assert.AreEqual(2, warnings.Count, log.AllText);
            StringAssert.Contains(warnings[0].Message, "'NPM_TOKEN'");
            StringAssert.Contains(warnings[1].Message, "'db_password'");
            Assert.IsFalse(log.AllText.Contains("SSH_KEY_NAME", StringComparison.Ordinal), "AllowSecretLookingName silences it");
        }
    }
}
