using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Options;
using EcrCache.Registries.Auth;
using EcrCache.Stores.Ecr;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Stores.Ecr
{
    /// <summary>ECR provider pieces that need no emulator: settings, options, policies, errors, retries, the private docker config.</summary>
    [TestClass]
    public sealed class EcrUnitTests
    {
        private static Func<string, string?> Env(params (string Name, string Value)[] values)
        {
            var map = values.ToDictionary(v => v.Name, v => v.Value);
            return name => map.TryGetValue(name, out var value) ? value : null;
        }

        // ---------------------------------------------------------------- region and endpoint

        [TestMethod]
        public void RegionPrecedence_PropertyThenAwsRegionThenDefaultRegionThenProfileThenEuWest1()
        {
            var all = Env(("AWS_REGION", "us-east-2"), ("AWS_DEFAULT_REGION", "us-west-1"));
            Assert.AreEqual("ap-south-1", EcrSettings.Resolve("ap-south-1", null, all, _ => "ca-central-1").Region);
            Assert.AreEqual("us-east-2", EcrSettings.Resolve(null, null, all, _ => "ca-central-1").Region);
            Assert.AreEqual("us-west-1", EcrSettings.Resolve(null, null, Env(("AWS_DEFAULT_REGION", "us-west-1")), _ => "ca-central-1").Region);
            string? askedProfile = null;
            var fromProfile = EcrSettings.Resolve(null, null, Env(("AWS_PROFILE", "ci")), p => { askedProfile = p; return "ca-central-1"; });
            Assert.AreEqual("ca-central-1", fromProfile.Region);
            Assert.AreEqual("ci", askedProfile);
            StringAssert.Contains(fromProfile.RegionSource, "'ci'");
            Assert.AreEqual("eu-west-1", EcrSettings.Resolve(null, null, Env(), _ => null).Region);
        }

        [TestMethod]
        public void Endpoints_PublicPerRegion_ChinaSuffix_AndOverrides()
        {
            Assert.AreEqual("https://api.ecr.eu-west-1.amazonaws.com/", EcrSettings.Resolve(null, null, Env(), _ => null).Endpoint.ToString());
            Assert.AreEqual("https://api.ecr.cn-north-1.amazonaws.com.cn/", EcrSettings.Resolve("cn-north-1", null, Env(), _ => null).Endpoint.ToString());
            Assert.AreEqual("123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn", EcrSettings.RegistryHost("123456789012", "cn-northwest-1"));

            var general = Env(("AWS_ENDPOINT_URL", "http://127.0.0.1:1234"));
            Assert.AreEqual("http://127.0.0.1:1234/", EcrSettings.Resolve(null, null, general, _ => null).Endpoint.ToString());
            var specific = Env(("AWS_ENDPOINT_URL", "http://127.0.0.1:1234"), ("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:5678"));
            Assert.AreEqual("http://127.0.0.1:5678/", EcrSettings.Resolve(null, null, specific, _ => null).Endpoint.ToString());
            Assert.AreEqual("https://vpce.example/", EcrSettings.Resolve(null, "https://vpce.example", specific, _ => null).Endpoint.ToString());
            var ignored = Env(("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:5678"), ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"));
            Assert.AreEqual("https://api.ecr.eu-west-1.amazonaws.com/", EcrSettings.Resolve(null, null, ignored, _ => null).Endpoint.ToString());
        }

        [TestMethod]
        public void BadRegionAndEndpointAreCoded()
        {
            var region = Assert.ThrowsExactly<EcrCacheException>(() => EcrSettings.Resolve("Europe", null, Env(), _ => null));
            Assert.AreEqual("ECRC1512", region.Diagnostic.Code);
            var endpoint = Assert.ThrowsExactly<EcrCacheException>(() => EcrSettings.Resolve(null, null, Env(("AWS_ENDPOINT_URL_ECR", "localhost:4566")), _ => null));
            Assert.AreEqual("ECRC1513", endpoint.Diagnostic.Code);
            StringAssert.Contains(endpoint.Diagnostic.Message, "AWS_ENDPOINT_URL_ECR");
        }

        [TestMethod]
        public void MaxAttemptsHonoursAwsMaxAttempts()
        {
            Assert.AreEqual(3, EcrSettings.Resolve(null, null, Env(), _ => null).MaxAttempts);
            Assert.AreEqual(7, EcrSettings.Resolve(null, null, Env(("AWS_MAX_ATTEMPTS", "7")), _ => null).MaxAttempts);
        }

        // ---------------------------------------------------------------- options

        private static RawOptions Raw(string dir, Action<RawOptions>? configure = null)
        {
            File.WriteAllText(Path.Combine(dir, "Dockerfile"), "FROM scratch\n");
            var raw = new RawOptions
            {
                ProjectDirectory = dir,
                ProjectName = "unit",
                IntermediateDirectory = Path.Combine(dir, "obj"),
                ["Provider"] = "ecr",
                ["Repository"] = "build-cache/org/pipeline",
                Environment = _ => null,
            };
            configure?.Invoke(raw);
            return raw;
        }

        [TestMethod]
        public void OptionsParser_ParsesEcrOptions()
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-ecr-options");
            var raw = Raw(dir, r =>
            {
                r["Region"] = "us-west-2";
                r["MaxAgeDays"] = "30";
                r["PullAccounts"] = "111122223333; 444455556666,111122223333";
                r["EcrEndpoint"] = "http://127.0.0.1:4566";
                r.EcrTags.Add(new RawItem("team", new Dictionary<string, string> { ["Value"] = "platform" }));
                r.EcrTags.Add(new RawItem("cost-centre", new Dictionary<string, string> { ["Value"] = "42" }));
            });
            var options = OptionsParser.Parse(raw, new RecordingLog());
            Assert.AreEqual(ProviderKind.Ecr, options.Provider);
            Assert.AreEqual("us-west-2", options.EcrRegion);
            Assert.AreEqual(30, options.EcrMaxAgeDays);
            CollectionAssert.AreEqual(new[] { "111122223333", "444455556666" }, options.EcrPullAccounts.ToArray());
            Assert.AreEqual("http://127.0.0.1:4566", options.EcrEndpoint);
            Assert.AreEqual(2, options.EcrTags.Count);
            Assert.AreEqual(new KeyValuePair<string, string>("team", "platform"), options.EcrTags[0]);

            Assert.AreEqual(7, OptionsParser.Parse(Raw(dir), new RecordingLog()).EcrMaxAgeDays, "default 7 days, as the reference v3.0.0");
        }

        [TestMethod]
        public void OptionsParser_RejectsBadEcrOptionsWithCodes()
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-ecr-options");
            (Action<RawOptions> configure, string code)[] cases =
            {
                (r => r["MaxAgeDays"] = "seven", "ECRC1510"),
                (r => r["MaxAgeDays"] = "-1", "ECRC1510"),
                (r => r["PullAccounts"] = "12345", "ECRC1511"),
                (r => r["Region"] = "EU_WEST", "ECRC1512"),
                (r => r["EcrEndpoint"] = "not a url", "ECRC1513"),
                (r => r.EcrTags.Add(new RawItem("aws:reserved", new Dictionary<string, string> { ["Value"] = "x" })), "ECRC1514"),
                (r => r.EcrTags.Add(new RawItem("bad<char>", new Dictionary<string, string> { ["Value"] = "x" })), "ECRC1514"),
                (r => r["Repository"] = "build-cache/a--b", "ECRC1504"),
            };
            foreach (var (configure, code) in cases)
            {
                var ex = Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(Raw(dir, configure), new RecordingLog()));
                Assert.AreEqual(code, ex.Diagnostic.Code, ex.Message);
            }
        }

        // ---------------------------------------------------------------- policies

        [TestMethod]
        public void LifecyclePolicy_OneSinceImagePushedRuleOnAnyTag()
        {
            using var doc = JsonDocument.Parse(EcrPolicies.LifecyclePolicy(7));
            var rules = doc.RootElement.GetProperty("rules");
            Assert.AreEqual(1, rules.GetArrayLength());
            var selection = rules[0].GetProperty("selection");
            Assert.AreEqual("any", selection.GetProperty("tagStatus").GetString());
            Assert.AreEqual("sinceImagePushed", selection.GetProperty("countType").GetString());
            Assert.AreEqual("days", selection.GetProperty("countUnit").GetString());
            Assert.AreEqual(7, selection.GetProperty("countNumber").GetInt32());
            Assert.AreEqual("expire", rules[0].GetProperty("action").GetProperty("type").GetString());

            Assert.IsTrue(EcrPolicies.LifecyclePolicyMatches(EcrPolicies.LifecyclePolicy(7), 7));
            Assert.IsFalse(EcrPolicies.LifecyclePolicyMatches(EcrPolicies.LifecyclePolicy(7), 8));
            Assert.IsFalse(EcrPolicies.LifecyclePolicyMatches(null, 7));
            Assert.IsFalse(EcrPolicies.LifecyclePolicyMatches("{\"rules\":[]}", 7));
            Assert.IsFalse(EcrPolicies.LifecyclePolicyMatches("not json", 7));
        }

        [TestMethod]
        public void RepositoryPolicy_KeepsOtherStatements_AndIsNullWhenUpToDate()
        {
            var other = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"Theirs\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"ecr:BatchGetImage\"}]}";
            var merged = EcrPolicies.RepositoryPolicyWithPullAccounts(other, new[] { "111122223333" }, "eu-west-1");
            Assert.IsNotNull(merged);
            using (var doc = JsonDocument.Parse(merged!))
            {
                var statements = doc.RootElement.GetProperty("Statement");
                Assert.AreEqual(2, statements.GetArrayLength());
                Assert.AreEqual("Theirs", statements[0].GetProperty("Sid").GetString());
                Assert.AreEqual("arn:aws:iam::111122223333:root", statements[1].GetProperty("Principal").GetProperty("AWS")[0].GetString());
            }

            Assert.IsNull(EcrPolicies.RepositoryPolicyWithPullAccounts(merged, new[] { "111122223333" }, "eu-west-1"));
            Assert.IsNotNull(EcrPolicies.RepositoryPolicyWithPullAccounts(merged, new[] { "111122223333", "444455556666" }, "eu-west-1"));
            StringAssert.Contains(EcrPolicies.RepositoryPolicyWithPullAccounts(null, new[] { "111122223333" }, "cn-north-1")!, "arn:aws-cn:iam::111122223333:root");
        }

        // ---------------------------------------------------------------- errors and retries

        [TestMethod]
        public void ParseError_JsonXmlAndHeader()
        {
            Assert.AreEqual(("AccessDeniedException", "no"), EcrClient.ParseError(null, Encoding.UTF8.GetBytes("{\"__type\":\"com.amazon.coral.service#AccessDeniedException\",\"Message\":\"no\"}")));
            Assert.AreEqual(("AccessDenied", "nope"), EcrClient.ParseError(null, Encoding.UTF8.GetBytes("<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>nope</Message></Error></Errors></ErrorResponse>")));
            Assert.AreEqual("ThrottlingException", EcrClient.ParseError("ThrottlingException:http://internal.amazon.com/", Array.Empty<byte>()).code);
        }

        private sealed class ScriptedHandler : HttpMessageHandler
        {
            private readonly Queue<(HttpStatusCode Status, string Body)> _answers;

            public ScriptedHandler(params (HttpStatusCode, string)[] answers) => _answers = new Queue<(HttpStatusCode, string)>(answers);

            public List<HttpRequestMessage> Requests { get; } = new List<HttpRequestMessage>();

            protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                Requests.Add(request);
                var (status, body) = _answers.Count > 1 ? _answers.Dequeue() : _answers.Peek();
                return Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/x-amz-json-1.1") });
            }
        }

        private static EcrClient FakeClient(ScriptedHandler handler, int maxAttempts = 3, RecordingLog? log = null) =>
            new EcrClient(new EcrSettings("us-east-2", "test", new Uri("https://api.ecr.us-east-2.amazonaws.com/"), "test", maxAttempts), new StaticAwsCredentialSource(Moto.TestCredentials), log ?? new RecordingLog(), handler)
            { BackoffBase = TimeSpan.FromMilliseconds(1) };

        private const string Repo = "{\"repositories\":[{\"repositoryName\":\"a/b\",\"repositoryArn\":\"arn:aws:ecr:us-east-2:123456789012:repository/a/b\",\"registryId\":\"123456789012\",\"repositoryUri\":\"123456789012.dkr.ecr.us-east-2.amazonaws.com/a/b\"}]}";

        [TestMethod]
        public async Task Throttling_IsRetriedWithBackoff_ThenSucceeds()
        {
            var handler = new ScriptedHandler(
                (HttpStatusCode.BadRequest, "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}"),
                (HttpStatusCode.ServiceUnavailable, "{}"),
                (HttpStatusCode.OK, Repo));
            var log = new RecordingLog();
            using var client = FakeClient(handler, log: log);
            var repository = await client.DescribeRepositoryAsync("a/b", CancellationToken.None);
            Assert.AreEqual("123456789012.dkr.ecr.us-east-2.amazonaws.com", repository!.Host);
            Assert.AreEqual(3, handler.Requests.Count);
            StringAssert.Contains(log.All, "throttled");
            var request = handler.Requests[0];
            Assert.AreEqual("AmazonEC2ContainerRegistry_V20150921.DescribeRepositories", request.Headers.GetValues("X-Amz-Target").Single());
            StringAssert.Contains(request.Headers.GetValues("Authorization").Single(), "/us-east-2/ecr/aws4_request");
        }

        [TestMethod]
        public async Task Throttling_ExhaustedIsCoded()
        {
            var handler = new ScriptedHandler((HttpStatusCode.BadRequest, "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}"));
            using var client = FakeClient(handler, maxAttempts: 2);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.DescribeRepositoryAsync("a/b", CancellationToken.None));
            Assert.AreEqual("ECRC1505", ex.Diagnostic.Code);
            Assert.AreEqual(2, handler.Requests.Count);
        }

        [TestMethod]
        public async Task ErrorsAreMappedToCodes()
        {
            (string Body, string Code, string Expect)[] cases =
            {
                ("{\"__type\":\"AccessDeniedException\",\"message\":\"User x is not authorized to perform: ecr:DescribeRepositories\"}", "ECRC1503", "ecr:DescribeRepositories"),
                ("{\"__type\":\"ExpiredTokenException\",\"message\":\"The security token included in the request is expired\"}", "ECRC1502", "ExpiredTokenException"),
                ("{\"__type\":\"UnrecognizedClientException\",\"message\":\"The security token included in the request is invalid.\"}", "ECRC1502", "UnrecognizedClientException"),
                ("{\"__type\":\"InvalidParameterException\",\"message\":\"Invalid parameter at 'repositoryName' failed to satisfy constraint\"}", "ECRC1504", "a/b"),
                ("{\"__type\":\"LimitExceededException\",\"message\":\"too many repositories\"}", "ECRC1507", "LimitExceededException"),
            };
            foreach (var (body, code, expect) in cases)
            {
                using var client = FakeClient(new ScriptedHandler((HttpStatusCode.BadRequest, body)));
                var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.DescribeRepositoryAsync("a/b", CancellationToken.None));
                Assert.AreEqual(code, ex.Diagnostic.Code, ex.Message);
                StringAssert.Contains(ex.Diagnostic.Message, expect);
            }
        }

        [TestMethod]
        public async Task UnreachableEndpointIsCoded()
        {
            var port = Ports.Free();
            using var client = new EcrClient(new EcrSettings("us-east-2", "test", new Uri("http://127.0.0.1:" + port + "/"), "test", 2), new StaticAwsCredentialSource(Moto.TestCredentials), new RecordingLog())
            { BackoffBase = TimeSpan.FromMilliseconds(1) };
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.DescribeRepositoryAsync("a/b", CancellationToken.None));
            Assert.AreEqual("ECRC1506", ex.Diagnostic.Code);
        }

        [TestMethod]
        public async Task MissingCredentialsAreCoded()
        {
            // A source that finds nothing, as the SDK chain does on a machine without credentials.
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => new FailingSource().GetAsync(CancellationToken.None));
            Assert.AreEqual("ECRC1501", ex.Diagnostic.Code);
            var env = await new DefaultAwsCredentialSource(n => n == "AWS_ACCESS_KEY_ID" ? "AKIDEXAMPLE" : n == "AWS_SECRET_ACCESS_KEY" ? "secret" : n == "AWS_SESSION_TOKEN" ? "session" : null).GetAsync(CancellationToken.None);
            Assert.AreEqual("AKIDEXAMPLE", env.AccessKeyId);
            Assert.AreEqual("session", env.SessionToken);
            Assert.IsFalse(env.ToString().Contains("secret", StringComparison.Ordinal));
        }

        [TestMethod]
        public async Task SdkChain_WithNothingConfigured_IsCredentialsMissing()
        {
            // Exercises AWSSDK.Core's DefaultAWSCredentialsIdentityResolver at run time (assembly loading, v4 API).
            var home = TestPaths.NewTempDirectory("ecrcache-ecr-nocreds");
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID"))
                || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_PROFILE"))
                || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_WEB_IDENTITY_TOKEN_FILE"))
                || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
                || File.Exists(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".aws", "credentials"))
                || File.Exists(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".aws", "config")))
            {
                Assert.Inconclusive("this machine has AWS credentials configured");
            }

            var source = new DefaultAwsCredentialSource(_ => null);
            try
            {
                var credentials = await source.GetAsync(CancellationToken.None);
                Assert.Inconclusive("the SDK chain found credentials (instance metadata?): " + credentials);
            }
            catch (EcrCacheException ex)
            {
                Assert.AreEqual("ECRC1501", ex.Diagnostic.Code, ex.Message);
            }
            finally
            {
                Directory.Delete(home, true);
            }
        }

        private sealed class FailingSource : IAwsCredentialSource
        {
            public string Description => "nothing";

            public Task<AwsCredentials> GetAsync(CancellationToken cancellationToken) =>
                throw new EcrCacheException(DiagnosticIds.EcrCredentialsMissing, "no credentials in the chain");
        }

        // ---------------------------------------------------------------- private docker config

        [TestMethod]
        public void PrivateDockerConfig_CopiesUserConfig_AddsLogin_IsPrivate_AndIsDeleted()
        {
            var home = TestPaths.NewTempDirectory("ecrcache-ecr-home");
            var userDir = Path.Combine(home, ".docker");
            Directory.CreateDirectory(Path.Combine(userDir, "cli-plugins"));
            File.WriteAllText(Path.Combine(userDir, "cli-plugins", "docker-buildx"), "#!/bin/sh\n");
            var userConfig = Path.Combine(userDir, "config.json");
            File.WriteAllText(userConfig, "{\"auths\":{\"other.example\":{\"auth\":\"b3RoZXI6cHc=\"}},\"credsStore\":\"desktop\",\"proxies\":{\"default\":{\"httpProxy\":\"http://proxy\"}}}");
            var before = File.ReadAllText(userConfig);

            using (var config = PrivateDockerConfig.Create(userConfig, "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "AWS", "secret-token", home))
            {
                var json = JsonNode.Parse(File.ReadAllText(config.ConfigPath))!.AsObject();
                Assert.AreEqual("b3RoZXI6cHc=", (string?)json["auths"]!["other.example"]!["auth"], "other registries keep working");
                Assert.AreEqual(Convert.ToBase64String(Encoding.UTF8.GetBytes("AWS:secret-token")), (string?)json["auths"]!["123456789012.dkr.ecr.eu-west-1.amazonaws.com"]!["auth"]);
                Assert.AreEqual("", (string?)json["credHelpers"]!["123456789012.dkr.ecr.eu-west-1.amazonaws.com"], "credsStore must not shadow the login");
                Assert.AreEqual("desktop", (string?)json["credsStore"]);
                Assert.IsNotNull(json["proxies"]);
                Assert.IsTrue(File.Exists(Path.Combine(config.Directory, "cli-plugins", "docker-buildx")), "cli plugins are linked in");
                Assert.AreEqual(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(config.Directory));
                Assert.AreEqual(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(config.ConfigPath));
                Assert.AreEqual(before, File.ReadAllText(userConfig), "the user's config is untouched");
            }

            Assert.IsTrue(File.Exists(Path.Combine(userDir, "cli-plugins", "docker-buildx")), "deleting the private folder never follows its links");
            Assert.AreEqual(1, Directory.GetDirectories(home).Length, "only .docker is left: the private folder was deleted");
            Directory.Delete(home, true);
        }
    }
}
