using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Options;
using EcrCache.Stores.Gar;
using EcrCache.Tasks.Tests.Core;
using EcrCache.Tasks.Tests.Docker;
using EcrCache.TestSupport;

namespace EcrCache.Tasks.Tests.Stores.Gar
{
    /// <summary>
    /// The Artifact Registry control plane and the real Google.Apis.Auth token flow. There is no Artifact Registry
    /// emulator, so Google's side is <see cref="FakeGoogleCloud"/>, a FAKE that checks every request it receives (paths,
    /// query, JSON bodies, the bearer token) and verifies the service-account JWT that Google.Apis.Auth signs with a key
    /// generated here. Everything on EcrCache's side is the product code: ADC resolution from GOOGLE_APPLICATION_CREDENTIALS,
    /// Google.Apis.Auth's token request, the REST client and the store's repository/label/cleanup-policy logic.
    /// No docker is needed: login only writes the private docker config.
    /// </summary>
    [TestClass]
    public sealed class GarControlPlaneTests
    {
        private const string Project = "fake-project";
        private const string ImagePath = "build-cache/org/pipe";
        private const string RepositoryName = "projects/fake-project/locations/us/repositories/build-cache";

        private string _dir = "";
        private FakeGoogleCloud _google = null!;

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-gar-cp");
            _google = FakeGoogleCloud.Start();
        }

        [TestCleanup]
        public void TearDown()
        {
            _google.Dispose();
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        [TestMethod]
        public async Task MissingRepository_IsCreatedWithLabelsAndPolicy_ThroughTheRealServiceAccountTokenFlow()
        {
            var log = new CapturingBuildLog();
            var dockerConfig = Path.Combine(_dir, "docker");
            Directory.CreateDirectory(dockerConfig);
            var userConfig = "{\"auths\":{\"other.example\":{\"auth\":\"" + Convert.ToBase64String(Encoding.UTF8.GetBytes("u:p")) + "\"}}}";
            File.WriteAllText(Path.Combine(dockerConfig, "config.json"), userConfig);
            var options = Options(labels: new[] { ("team", "platform") });
            string privateDirectory;
            using (var store = Store(options, log, Environment(dockerConfig)))
            {
                await store.PrepareAsync(CancellationToken.None);

                Assert.AreEqual(0, _google.TokenFailures.Count, "the fake token endpoint refused an assertion: " + string.Join("; ", _google.TokenFailures));
                Assert.AreEqual(1, _google.TokensIssued, "Google.Apis.Auth caches the token across calls");
                var api = _google.ApiRequests;
                CollectionAssert.AreEqual(
                    new[]
                    {
                        "GET /v1/" + RepositoryName,
                        "POST /v1/projects/fake-project/locations/us/repositories?repositoryId=build-cache",
                        "GET /v1/projects/fake-project/locations/us/operations/op-1",
                        "GET /v1/" + RepositoryName,
                    },
                    api.Select(r => r.ToString()).ToArray());
                Assert.IsTrue(api.All(r => r.Authorization == "Bearer " + _google.AccessToken), "every API call carries the ADC access token");
                Assert.IsTrue(api.All(r => r.UserProject == null), "no quota project in the key, no x-goog-user-project");

                using var body = JsonDocument.Parse(api[1].Body);
                Assert.AreEqual("DOCKER", body.RootElement.GetProperty("format").GetString());
                Assert.AreEqual("platform", body.RootElement.GetProperty("labels").GetProperty("team").GetString());
                var policyId = GarCleanupPolicy.PolicyIdFor(ImagePath);
                var policy = body.RootElement.GetProperty("cleanupPolicies").GetProperty(policyId);
                Assert.AreEqual("DELETE", policy.GetProperty("action").GetString());
                Assert.AreEqual("604800s", policy.GetProperty("condition").GetProperty("olderThan").GetString());
                Assert.AreEqual(ImagePath, policy.GetProperty("condition").GetProperty("packageNamePrefixes")[0].GetString());
                Assert.IsFalse(body.RootElement.GetProperty("cleanupPolicyDryRun").GetBoolean());
                Assert.IsNotNull(_google.Repository(RepositoryName), "the fake holds the repository now");
                StringAssert.Contains(log.AllText, "Created Artifact Registry repository " + RepositoryName);

                // docker is logged in through a private config: the user's other registries are kept, the host gets
                // oauth2accesstoken:<token>, and the user's own file is untouched.
                Assert.IsTrue(store.LoggedIn);
                privateDirectory = store.PrivateDockerConfigDirectory!;
                var written = JsonNode.Parse(File.ReadAllText(Path.Combine(privateDirectory, "config.json")))!;
                Assert.IsNotNull(written["auths"]!["other.example"]);
                var auth = Encoding.UTF8.GetString(Convert.FromBase64String((string)written["auths"]!["us-docker.pkg.dev"]!["auth"]!));
                Assert.AreEqual("oauth2accesstoken:" + _google.AccessToken, auth);
                Assert.AreEqual(userConfig, File.ReadAllText(Path.Combine(dockerConfig, "config.json")));
            }

            Assert.IsFalse(Directory.Exists(privateDirectory), "the private docker config is removed with the store");
            Assert.IsFalse(log.AllText.Contains(_google.AccessToken, StringComparison.Ordinal), "the access token was logged");
            StringAssert.Contains(log.AllText, "GAR GetRepository " + RepositoryName + " -> 404");
        }

        [TestMethod]
        public async Task ExistingRepository_IsLeftAloneWhenUpToDate_AndPatchedOnlyWhereItDiffers()
        {
            var policyId = GarCleanupPolicy.PolicyIdFor(ImagePath);
            var keepPolicy = new JsonObject { ["id"] = "keep-releases", ["action"] = "KEEP", ["condition"] = new JsonObject { ["tagState"] = "TAGGED", ["tagPrefixes"] = new JsonArray("release") } };
            _google.SeedRepository(RepositoryName, new JsonObject
            {
                ["format"] = "DOCKER",
                ["labels"] = new JsonObject { ["owner"] = "ops" },
                ["cleanupPolicies"] = new JsonObject
                {
                    ["keep-releases"] = keepPolicy,
                    [policyId] = JsonNode.Parse(GarCleanupPolicy.ExpiryJson(ImagePath, 7)),
                },
            });

            // Same settings: one GET, nothing written.
            using (var store = Store(Options(), new CapturingBuildLog(), Environment()))
            {
                await store.PrepareAsync(CancellationToken.None);
            }

            CollectionAssert.AreEqual(new[] { "GET /v1/" + RepositoryName }, _google.ApiRequests.Select(r => r.ToString()).ToArray(), "an up-to-date repository is only read");

            // A label and another age: labels are merged (owner kept), our policy rewritten, the user's policy kept.
            var log = new CapturingBuildLog();
            using (var store = Store(Options(days: 3, labels: new[] { ("team", "platform") }), log, Environment()))
            {
                await store.PrepareAsync(CancellationToken.None);
            }

            var patches = _google.ApiRequests.Where(r => r.Method == "PATCH").ToList();
            CollectionAssert.AreEqual(new[] { "?updateMask=labels", "?updateMask=cleanupPolicies%2CcleanupPolicyDryRun" }, patches.Select(p => p.Query).ToArray());
            var repository = _google.Repository(RepositoryName)!;
            Assert.AreEqual("ops", (string?)repository["labels"]!["owner"]);
            Assert.AreEqual("platform", (string?)repository["labels"]!["team"]);
            Assert.AreEqual("259200s", (string?)repository["cleanupPolicies"]![policyId]!["condition"]!["olderThan"]);
            Assert.IsTrue(JsonNode.DeepEquals(keepPolicy, repository["cleanupPolicies"]!["keep-releases"]), "the user's own policy is written back unchanged");
            Assert.AreEqual(0, log.Warnings.Count, string.Join("\n", log.Lines));
        }

        [TestMethod]
        public async Task KeepCount_AddsAKeepPolicyBesideTheCleanupPolicy_WrittenOnce()
        {
            // The fake control plane stands in for Artifact Registry (no emulator exists); it stores what is PATCHed.
            var policyId = GarCleanupPolicy.PolicyIdFor(ImagePath);
            var keepId = GarCleanupPolicy.KeepPolicyIdFor(ImagePath);
            _google.SeedRepository(RepositoryName, new JsonObject
            {
                ["format"] = "DOCKER",
                ["cleanupPolicies"] = new JsonObject { [policyId] = JsonNode.Parse(GarCleanupPolicy.ExpiryJson(ImagePath, 7)) },
            });

            var keep = Options();
            keep.KeepCount = 5;
            var log = new CapturingBuildLog();
            using (var store = Store(keep, log, Environment()))
            {
                await store.PrepareAsync(CancellationToken.None);
            }

            var policies = _google.Repository(RepositoryName)!["cleanupPolicies"]!;
            Assert.AreEqual("DELETE", (string?)policies[policyId]!["action"], "the cleanup policy stays");
            Assert.AreEqual("KEEP", (string?)policies[keepId]!["action"]);
            Assert.AreEqual(5, (int)policies[keepId]!["mostRecentVersions"]!["keepCount"]!);
            Assert.AreEqual(ImagePath, (string?)policies[keepId]!["mostRecentVersions"]!["packageNamePrefixes"]![0]);
            StringAssert.Contains(log.AllText, "keeps the newest 5");

            var patches = _google.ApiRequests.Count(r => r.Method == "PATCH");
            using (var store = Store(keep, new CapturingBuildLog(), Environment()))
            {
                await store.PrepareAsync(CancellationToken.None);
            }

            Assert.AreEqual(patches, _google.ApiRequests.Count(r => r.Method == "PATCH"), "up-to-date policies are not rewritten");

            using (var store = Store(Options(), new CapturingBuildLog(), Environment()))
            {
                await store.PrepareAsync(CancellationToken.None);
            }

            Assert.IsNull(_google.Repository(RepositoryName)!["cleanupPolicies"]![keepId], "without EcrCacheKeepCount our keep policy goes");
        }

        [TestMethod]
        public async Task AQuotaProjectInTheCredentials_IsSentAsXGoogUserProject()
        {
            _google.SeedRepository(RepositoryName, new JsonObject { ["format"] = "DOCKER" });
            var key = _google.WriteServiceAccountKey(Path.Combine(_dir, "quota-key.json"), Project, quotaProject: "billing-project");
            using var store = Store(Options(days: 0), new CapturingBuildLog(), Environment(credentials: key));
            await store.PrepareAsync(CancellationToken.None);
            var api = _google.ApiRequests;
            Assert.IsTrue(api.Count > 0 && api.All(r => r.UserProject == "billing-project"), string.Join(", ", api.Select(r => r + " " + r.UserProject)));
        }

        [TestMethod]
        public async Task CleanupPolicyRefused_IsAWarningAndTheBuildGoesOn()
        {
            _google.SeedRepository(RepositoryName, new JsonObject { ["format"] = "DOCKER" });
            _google.DenyUpdate = true;
            var log = new CapturingBuildLog();
            using var store = Store(Options(), log, Environment());
            await store.PrepareAsync(CancellationToken.None);
            CollectionAssert.AreEqual(new[] { "ECRC1612" }, log.WarningCodes.ToArray());
            StringAssert.Contains(log.Warnings[0].Message, "artifactregistry.repositories.update");
            Assert.IsTrue(store.LoggedIn, "the login still happens");
        }

        [TestMethod]
        public async Task ApiDisabled_PermissionDenied_BadLocation_AndNotDocker_AreCodedErrors()
        {
            _google.ApiDisabled = true;
            var disabled = await PrepareFails(Options(), "ECRC1609");
            StringAssert.Contains(disabled.Message, "gcloud services enable artifactregistry.googleapis.com --project=" + Project);
            _google.ApiDisabled = false;

            _google.DenyCreate = true;
            var denied = await PrepareFails(Options(), "ECRC1608");
            StringAssert.Contains(denied.Message, "artifactregistry.repositories.create");
            StringAssert.Contains(denied.Message, "roles/artifactregistry.admin");
            StringAssert.Contains(denied.Message, "roles/artifactregistry.writer");
            StringAssert.Contains(denied.Message, "GOOGLE_APPLICATION_CREDENTIALS", "names where the credentials came from");
            _google.DenyCreate = false;

            var location = Options();
            location.Location = "mars-north1";
            StringAssert.Contains((await PrepareFails(location, "ECRC1603")).Message, "mars-north1");

            _google.SeedRepository(RepositoryName, new JsonObject { ["format"] = "MAVEN" });
            StringAssert.Contains((await PrepareFails(Options(), "ECRC1614")).Message, "MAVEN");
        }

        [TestMethod]
        public async Task Credentials_MissingFileRefusedKeyAndNoAdc_AreCodedErrors()
        {
            var missing = Path.Combine(_dir, "nope.json");
            var noFile = await PrepareFails(Options(), "ECRC1606", Environment(credentials: missing));
            StringAssert.Contains(noFile.Message, missing);

            // A key whose private half the token endpoint does not know: the JWT signature does not verify.
            using var stranger = FakeGoogleCloud.Start();
            var strangerKey = stranger.WriteServiceAccountKey(Path.Combine(_dir, "stranger.json"));
            var text = File.ReadAllText(strangerKey).Replace(stranger.TokenUri, _google.TokenUri);
            File.WriteAllText(strangerKey, text);
            var refused = await PrepareFails(Options(), "ECRC1607", Environment(credentials: strangerKey));
            StringAssert.Contains(refused.Message, "invalid_grant");
            Assert.IsTrue(_google.TokenFailures.Any(f => f.Contains("kid", StringComparison.Ordinal) || f.Contains("signature", StringComparison.Ordinal)), "the fake refused the assertion");

            var key = _google.WriteServiceAccountKey(Path.Combine(_dir, "key.json"));
            var garbage = Path.Combine(_dir, "garbage.json");
            File.WriteAllText(garbage, "{\"type\":\"service_account\"");
            await PrepareFails(Options(), "ECRC1606", Environment(credentials: garbage));
            Assert.IsTrue(File.Exists(key));
        }

        [TestMethod]
        public async Task ApiRefusingTheToken_IsECRC1607()
        {
            var log = new CapturingBuildLog();
            var client = new GarClient(new Uri(_google.Endpoint), Project, new StaticGoogleAccessTokenSource("ya29.not-the-fakes-token"), log) { BackoffBase = TimeSpan.FromMilliseconds(1) };
            using var store = new GarStore(Options(), client, new StaticGoogleAccessTokenSource("x"), Docker(), new FakeProcessRunner(), log, Environment());
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => store.PrepareAsync(CancellationToken.None));
            Assert.AreEqual("ECRC1607", ex.Diagnostic.Code, ex.Message);
            StringAssert.Contains(ex.Message, "401");
        }

        [TestMethod]
        public async Task Unreachable_IsECRC1610AfterRetries()
        {
            var log = new CapturingBuildLog();
            var closed = "http://127.0.0.1:" + FakeGoogleCloud.FreePort() + "/";
            var client = new GarClient(new Uri(closed), Project, new StaticGoogleAccessTokenSource("t"), log) { BackoffBase = TimeSpan.FromMilliseconds(1) };
            using var store = new GarStore(Options(), client, new StaticGoogleAccessTokenSource("t"), Docker(), new FakeProcessRunner(), log, Environment());
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => store.PrepareAsync(CancellationToken.None));
            Assert.AreEqual("ECRC1610", ex.Diagnostic.Code, ex.Message);
            Assert.AreEqual(GarClient.MaxAttempts, client.Calls.Count, "transport failures are retried: " + string.Join(", ", client.Calls));
        }

        [TestMethod]
        public async Task CredentialHelperForTheHost_MeansNoLogin()
        {
            _google.SeedRepository(RepositoryName, new JsonObject { ["format"] = "DOCKER" });
            var dockerConfig = Path.Combine(_dir, "docker-helper");
            Directory.CreateDirectory(dockerConfig);
            File.WriteAllText(Path.Combine(dockerConfig, "config.json"), "{\"credHelpers\":{\"us-docker.pkg.dev\":\"gcloud\"}}");
            var log = new CapturingBuildLog();
            using var store = Store(Options(days: 0), log, Environment(dockerConfig));
            await store.PrepareAsync(CancellationToken.None);
            Assert.IsFalse(store.LoggedIn, "gcloud auth configure-docker set up the helper; EcrCache must not log in");
            StringAssert.Contains(log.AllText, "routes us-docker.pkg.dev to docker-credential-gcloud");
            Assert.IsFalse(Directory.EnumerateDirectories(Path.GetTempPath(), "ecrcache-docker-*").Any(d => File.ReadAllText(Path.Combine(d, "config.json")).Contains(Convert.ToBase64String(Encoding.UTF8.GetBytes("oauth2accesstoken:" + _google.AccessToken)), StringComparison.Ordinal)), "no private config with the token");
        }

        [TestMethod]
        public async Task ARefreshedToken_LogsDockerInAgainBeforeThePush()
        {
            _google.SeedRepository(RepositoryName, new JsonObject { ["format"] = "DOCKER" });
            var log = new CapturingBuildLog();
            var runner = new FakeProcessRunner().On("push", 0).On("tag", 0);
            var docker = new DockerCli("docker", runner, log);
            var client = new GarClient(new Uri(_google.Endpoint), Project, new StaticGoogleAccessTokenSource(_google.AccessToken), log);
            var tokens = new RotatingTokens("ya29.first-token", "ya29.second-token");
            using var store = new GarStore(Options(days: 0), client, tokens, docker, runner, log, Environment()) { PrivateConfigParent = _dir };
            await store.PrepareAsync(CancellationToken.None);
            var firstDirectory = store.PrivateDockerConfigDirectory!;
            StringAssert.Contains(File.ReadAllText(Path.Combine(firstDirectory, "config.json")), Convert.ToBase64String(Encoding.UTF8.GetBytes("oauth2accesstoken:ya29.first-token")));

            await store.PublishAsync("abc", updateLatest: true, CancellationToken.None);
            var secondDirectory = store.PrivateDockerConfigDirectory!;
            Assert.AreNotEqual(firstDirectory, secondDirectory, "a new token means a new private config");
            Assert.IsFalse(Directory.Exists(firstDirectory), "the old one is removed at once");
            StringAssert.Contains(File.ReadAllText(Path.Combine(secondDirectory, "config.json")), Convert.ToBase64String(Encoding.UTF8.GetBytes("oauth2accesstoken:ya29.second-token")));
            var pushes = runner.Specs.Where(p => p.Arguments[0] == "push").ToList();
            Assert.AreEqual(2, pushes.Count);
            Assert.IsTrue(pushes.All(p => p.Environment["DOCKER_CONFIG"] == secondDirectory), "both pushes use the refreshed login");
            Assert.IsFalse(log.AllText.Contains("ya29.", StringComparison.Ordinal), "a token was logged");
        }

        // ---------------------------------------------------------------------------------------------------------------

        private GarOptions Options(int days = 7, (string Key, string Value)[]? labels = null)
        {
            var options = new GarOptions
            {
                Project = Project,
                Location = "us",
                RepositoryId = "build-cache",
                Host = "us-docker.pkg.dev",
                ImagePath = ImagePath,
                Endpoint = new Uri(_google.Endpoint),
                EndpointSource = "test",
                MaxAgeDays = days,
            };
            foreach (var (key, value) in labels ?? Array.Empty<(string, string)>())
            {
                options.Labels.Add(new KeyValuePair<string, string>(key, value));
            }

            return options;
        }

        private Func<string, string?> Environment(string? dockerConfig = null, string? credentials = null)
        {
            var home = Path.Combine(_dir, "home");
            Directory.CreateDirectory(home);
            var values = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["HOME"] = home,
                ["GOOGLE_APPLICATION_CREDENTIALS"] = credentials ?? _google.WriteServiceAccountKey(Path.Combine(_dir, "sa-key.json"), Project),
                ["DOCKER_CONFIG"] = dockerConfig ?? Path.Combine(_dir, "no-docker-config"),
                ["PATH"] = System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin",
            };
            return name => values.TryGetValue(name, out var value) ? value : null;
        }

        private static DockerCli Docker() => new DockerCli("docker-not-used", new FakeProcessRunner(), new CapturingBuildLog());

        private GarStore Store(GarOptions options, CapturingBuildLog log, Func<string, string?> environment)
        {
            var tokens = new ApplicationDefaultCredentialSource(environment);
            var client = new GarClient(options.Endpoint, options.Project, tokens, log) { BackoffBase = TimeSpan.FromMilliseconds(1), OperationPollInterval = TimeSpan.FromMilliseconds(20) };
            return new GarStore(options, client, tokens, Docker(), new FakeProcessRunner(), log, environment) { PrivateConfigParent = _dir };
        }

        private async Task<EcrCacheException> PrepareFails(GarOptions options, string code, Func<string, string?>? environment = null)
        {
            var log = new CapturingBuildLog();
            using var store = Store(options, log, environment ?? Environment());
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => store.PrepareAsync(CancellationToken.None));
            Assert.AreEqual(code, ex.Diagnostic.Code, ex.Message);
            Assert.IsFalse(ex.Message.Contains(_google.AccessToken, StringComparison.Ordinal), "the token is in the message");
            return ex;
        }
    

        /// <summary>Hands out the given tokens in turn (the last one from then on), as a credential refreshing its token would.</summary>
        private sealed class RotatingTokens : IGoogleAccessTokenSource
        {
            private readonly Queue<string> _tokens;
            private string _last = "";

            public RotatingTokens(params string[] tokens) => _tokens = new Queue<string>(tokens);

            public string Description => "rotating test tokens";

            public Task<string> GetAccessTokenAsync(CancellationToken cancellationToken)
            {
                if (_tokens.Count > 0)
                {
                    _last = _tokens.Dequeue();
                }

                return Task.FromResult(_last);
            }
        }
    }
}
