using System.Text;
using EcrCache.Core;
using EcrCache.Docker;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Stores.Gar;
using EcrCache.Tasks.Tests.Core;
using EcrCache.TestSupport;

namespace EcrCache.Tasks.Tests.Stores.Gar
{
    /// <summary>
    /// The whole engine with EcrCacheProvider=gar against a REAL data plane: a docker-registry of this class's own on
    /// loopback that takes only user oauth2accesstoken with the access token as password (as Google's registries do),
    /// and the real docker daemon pushing and pulling through the private DOCKER_CONFIG. The control plane and the token
    /// endpoint are <see cref="FakeGoogleCloud"/> (a fake: no Artifact Registry emulator exists), reached through the real
    /// Google.Apis.Auth service-account flow.
    /// </summary>
    [TestClass]
    [TestCategory(Categories.Docker)]
    [TestCategory(Categories.Registry)]
    public sealed class GarEngineTests
    {
        private static FakeGoogleCloud? _google;
        private static TokenRegistry? _registry;
        private static string? _skip;

        private string _dir = "";
        private readonly List<string> _images = new List<string>();

        [ClassInitialize]
        public static void StartServices(TestContext context)
        {
            _google = FakeGoogleCloud.Start();
            _registry = TokenRegistry.TryStart(_google.AccessToken, out _skip);
        }

        [ClassCleanup]
        public static void StopServices()
        {
            _registry?.Dispose();
            _google?.Dispose();
        }

        [TestInitialize]
        public void SetUp()
        {
            if (_registry == null)
            {
                Assert.Inconclusive(_skip ?? "the token registry did not start");
            }

            RealDocker.Require();
            _dir = TestPaths.NewTempDirectory("ecrcache-gar-engine");
            File.WriteAllText(Path.Combine(_dir, "package.json"), "{\"name\":\"gar-" + Guid.NewGuid().ToString("N") + "\"}\n");
        }

        [TestCleanup]
        public void TearDown()
        {
            foreach (var image in _images)
            {
                RealDocker.RemoveRepository(image);
            }

            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        [TestMethod]
        public async Task Miss_CreatesRepositoryBuildsAndPushes_ThenHitPulls_AndTheTokenStaysOutOfArgvEnvAndLogs()
        {
            var google = _google!;
            var registry = _registry!;
            var path = "build-cache/gar-engine-" + Guid.NewGuid().ToString("N").Substring(0, 8);
            var environment = Environment(Path.Combine(_dir, "docker"));
            var options = Parse(path, environment);
            var image = registry.Host + "/fake-project/build-cache/" + path;
            _images.Add(image);
            Assert.AreEqual(image, options.Gar!.Image);

            var runner = new RecordingRunner();
            var log = new CapturingBuildLog();
            var first = await new CacheEngine(options, log, runner).EnsureAsync(CancellationToken.None);
            Assert.AreEqual(CacheResult.Built, first.Result, log.AllText);
            Assert.AreEqual(image, first.Image);
            StringAssert.Contains(log.AllText, "Created Artifact Registry repository projects/fake-project/locations/us/repositories/build-cache");
            Assert.AreEqual(200, registry.HeadManifest("fake-project/build-cache/" + path, first.Tag, google.AccessToken), "the tag is in the registry");
            Assert.AreEqual(200, registry.HeadManifest("fake-project/build-cache/" + path, "latest", google.AccessToken), "latest is in the registry");
            Assert.AreEqual(401, registry.HeadManifest("fake-project/build-cache/" + path, first.Tag, null), "sanity: the registry refuses anonymous access");
            Assert.AreEqual(0, google.TokenFailures.Count, string.Join("; ", google.TokenFailures));

            RealDocker.RemoveRepository(image);
            Assert.IsFalse(RealDocker.ImageExists(first.Reference));
            var log2 = new CapturingBuildLog();
            var second = await new CacheEngine(options, log2, runner).EnsureAsync(CancellationToken.None);
            Assert.AreEqual(CacheResult.HitPulled, second.Result, log2.AllText);
            Assert.AreEqual(first.Reference, second.Reference);
            Assert.IsTrue(RealDocker.ImageExists(second.Reference));
            Assert.IsFalse(log2.AllText.Contains("Created Artifact Registry", StringComparison.Ordinal));
            Assert.IsFalse(log2.AllText.Contains("GAR UpdateRepository", StringComparison.Ordinal), "the policy was already in place");

            // Local hit: no API call, no token.
            var before = google.Requests.Count;
            var third = await new CacheEngine(options, new CapturingBuildLog(), runner).EnsureAsync(CancellationToken.None);
            Assert.AreEqual(CacheResult.HitLocal, third.Result);
            Assert.AreEqual(before, google.Requests.Count, "a local hit talks to neither the API nor the token endpoint");

            var token = google.AccessToken;
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes("oauth2accesstoken:" + token));
            foreach (var spec in runner.Specs)
            {
                var text = spec.DisplayText + " " + string.Join(" ", spec.Environment.Select(e => e.Key + "=" + e.Value)) + " " + spec.StandardInput;
                Assert.IsFalse(text.Contains(token, StringComparison.Ordinal) || text.Contains(basic, StringComparison.Ordinal), "the token reached a child's argv, environment or stdin: " + spec.DisplayText);
            }

            Assert.IsTrue(runner.Specs.Any(s => s.Arguments.Contains("push") && s.Environment.ContainsKey("DOCKER_CONFIG")), "docker push ran with the private DOCKER_CONFIG");
            foreach (var text in new[] { log.AllText, log2.AllText, File.ReadAllText(options.EnvFile) })
            {
                Assert.IsFalse(text.Contains(token, StringComparison.Ordinal), "the token was logged or exported");
            }

            var privateConfigs = System.Text.RegularExpressions.Regex.Matches(log.AllText + log2.AllText, @"in the private DOCKER_CONFIG (\S+) \(").Select(m => m.Groups[1].Value).ToList();
            Assert.AreEqual(2, privateConfigs.Count, "both remote runs logged docker in privately");
            Assert.IsFalse(privateConfigs.Any(Directory.Exists), "the private DOCKER_CONFIG folders are removed");
        }

        [TestMethod]
        public async Task GcloudCredentialHelper_IsUsedForHeadPushAndPull_WithoutLogin()
        {
            var google = _google!;
            var registry = _registry!;
            var path = "build-cache/gar-helper-" + Guid.NewGuid().ToString("N").Substring(0, 8);

            // What `gcloud auth configure-docker HOST` leaves behind: credHelpers[HOST] = gcloud. The helper here is a
            // stand-in script for docker-credential-gcloud that answers with the access token.
            var bin = Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName;
            var helper = Path.Combine(bin, "docker-credential-gcloud");
            File.WriteAllText(helper, "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread host\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"oauth2accesstoken\",\"Secret\":\"%s\"}\\n' \"$host\" \"" + google.AccessToken + "\"\n");
            File.SetUnixFileMode(helper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var dockerConfig = Directory.CreateDirectory(Path.Combine(_dir, "docker-helper")).FullName;
            File.WriteAllText(Path.Combine(dockerConfig, "config.json"), "{\"credHelpers\":{\"" + registry.Host + "\":\"gcloud\"}}");
            var searchPath = bin + ":" + (System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin");
            var environment = Environment(dockerConfig, searchPath);
            var options = Parse(path, environment);
            var image = options.Gar!.Image;
            _images.Add(image);

            async Task<(CacheResult Result, CapturingBuildLog Log)> RunAsync()
            {
                var log = new CapturingBuildLog();
                var engine = new CacheEngine(options, log)
                {
                    StoreFactory = (o, docker, l) =>
                    {
                        docker.Environment["PATH"] = searchPath;
                        docker.Environment["DOCKER_CONFIG"] = dockerConfig;
                        return GarStore.Create(o, docker, ProcessRunner.Instance, l);
                    },
                };
                return (await engine.EnsureAsync(CancellationToken.None), log);
            }

            var (first, firstLog) = await RunAsync();
            Assert.AreEqual(CacheResult.Built, first.Result, firstLog.AllText);
            StringAssert.Contains(firstLog.AllText, "routes " + registry.Host + " to docker-credential-gcloud; not logging in");
            Assert.IsFalse(firstLog.AllText.Contains("private DOCKER_CONFIG", StringComparison.Ordinal), firstLog.AllText);
            Assert.AreEqual(200, registry.HeadManifest(options.Gar.RegistryRepository, first.Tag, google.AccessToken));

            RealDocker.RemoveRepository(image);
            var (second, secondLog) = await RunAsync();
            Assert.AreEqual(CacheResult.HitPulled, second.Result, secondLog.AllText);
        }

        [TestMethod]
        public async Task Gcr_PushesUnderGcrIoNames_IntoTheRepositoryNamedAfterTheHost()
        {
            var google = _google!;
            var registry = _registry!;
            var path = "build-cache/gcr-engine-" + Guid.NewGuid().ToString("N").Substring(0, 8);
            var options = Parse(path, Environment(Path.Combine(_dir, "docker")), provider: "gcr");
            var image = registry.Host + "/fake-project/" + path;
            _images.Add(image);
            Assert.AreEqual(image, options.Gar!.Image, "gcr names: host/project/path, as the reference plugin's");

            var log = new CapturingBuildLog();
            var result = await new CacheEngine(options, log).EnsureAsync(CancellationToken.None);
            Assert.AreEqual(CacheResult.Built, result.Result, log.AllText);
            Assert.AreEqual(200, registry.HeadManifest("fake-project/" + path, result.Tag, google.AccessToken));
            var repository = google.Repository("projects/fake-project/locations/us/repositories/gcr.io");
            Assert.IsNotNull(repository, "the gcr.io repository (location us) is created when missing");
            Assert.AreEqual(path, (string?)repository["cleanupPolicies"]![GarCleanupPolicy.PolicyIdFor(path)]!["condition"]!["packageNamePrefixes"]![0], "in a shared gcr.io repository the policy only touches this path");
        }

        private CacheOptions Parse(string path, Func<string, string?> environment, string provider = "gar")
        {
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "gar",
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache"),
                ["DockerfileInline"] = "FROM " + RealDocker.BaseImage + "\nLABEL org.ecrcache.test=\"gar\"\n",
                ["Provider"] = provider,
                ["Registry"] = _registry!.Host,
                ["Repository"] = path,
                ["GcpProject"] = "fake-project",
                ["GarEndpoint"] = _google!.Endpoint,
                ["DockerPath"] = RealDocker.Executable,
                Environment = environment,
            };
            raw.CacheOn.Add(new RawItem("package.json"));
            raw.EcrTags.Add(new RawItem("Team", new Dictionary<string, string> { ["Value"] = "Platform" }));
            return OptionsParser.Parse(raw, new CapturingBuildLog());
        }

        private Func<string, string?> Environment(string dockerConfig, string? searchPath = null)
        {
            var home = Directory.CreateDirectory(Path.Combine(_dir, "home")).FullName;
            Directory.CreateDirectory(dockerConfig);
            var values = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["HOME"] = home,
                ["GOOGLE_APPLICATION_CREDENTIALS"] = _google!.WriteServiceAccountKey(Path.Combine(_dir, "sa-key.json")),
                ["DOCKER_CONFIG"] = dockerConfig,
                ["PATH"] = searchPath ?? System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin",
            };
            return name => values.TryGetValue(name, out var value) ? value : null;
        }

        /// <summary>The real process runner, recording every spec (argv, environment overrides, stdin).</summary>
        private sealed class RecordingRunner : IProcessRunner
        {
            private readonly List<ProcessSpec> _specs = new List<ProcessSpec>();

            public IReadOnlyList<ProcessSpec> Specs
            {
                get
                {
                    lock (_specs)
                    {
                        return _specs.ToList();
                    }
                }
            }

            public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken)
            {
                lock (_specs)
                {
                    _specs.Add(spec);
                }

                return ProcessRunner.Instance.RunAsync(spec, cancellationToken);
            }
        }
    }
}
