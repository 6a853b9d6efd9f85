using System.Diagnostics;
using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Options;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;
using EcrCache.Tasks.Tests.Core;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Faults
{
    /// <summary>
    /// The engine against the real docker-registry and dockerd, with a <see cref="FaultProxy"/> in between (dockerd
    /// pushes and pulls through it too: 127.0.0.1 registries may be plain http). Each test uses its own repository
    /// and removes its local images afterwards.
    /// </summary>
    [TestClass]
    [TestCategory(Categories.Docker)]
    [DoNotParallelize]
    public sealed class FaultInjectionTests
    {
        private string _dir = "";
        private string _repository = "";
        private readonly List<string> _registries = new();

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-faults");
            _repository = "ecrcache-tests/faults-" + Guid.NewGuid().ToString("N").Substring(0, 12);
            File.WriteAllText(Path.Combine(_dir, "package.json"), "{\"name\":\"faults-" + Guid.NewGuid().ToString("N") + "\"}\n");
        }

        [TestCleanup]
        public void TearDown()
        {
            foreach (var registry in _registries)
            {
                RealDocker.RemoveRepository(registry + "/" + _repository);
            }

            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private CacheOptions Options(string registry, string name, string dockerfile, Action<RawOptions>? configure = null)
        {
            _registries.Add(registry);
            var lockDir = Path.Combine(_dir, "locks");
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "faults",
                IntermediateDirectory = Path.Combine(_dir, "obj", name),
                ["DockerfileInline"] = dockerfile,
                ["Repository"] = _repository,
                ["Provider"] = "registry",
                ["Registry"] = registry,
                ["DockerPath"] = RealDocker.Executable,
                Environment = n => n == "ECRCACHE_LOCK_DIR" ? lockDir : null,
            };
            raw.CacheOn.Add(new RawItem("package.json"));
            configure?.Invoke(raw);
            return OptionsParser.Parse(raw, new CapturingBuildLog());
        }

        private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

        private string Stamp(string name) => Path.Combine(_dir, "obj", name, CacheEngine.StampFileName);

        [TestMethod]
        [TestCategory(Categories.Registry)]
        public async Task ThirtyPercentInjectedFaults_BuildPushAndPullStillSucceed()
        {
            RealDocker.Require();
            using var proxy = new FaultProxy(TestServices.Registry) { Decide = FaultProxy.Random(0.3, seed: 7) };
            var dockerfile = "FROM " + RealDocker.BaseImage + "\nRUN echo faults > /faults.txt\n";

            // dockerd itself retries layer transfers but not its registry pings, blob HEADs or manifest requests, so
            // each fault there costs a whole docker push/pull attempt: EcrCache's retries (EcrCacheDockerRetries)
            // absorb them. Each operation fails at most once here, so eight (instead of the default three) keeps
            // this test's outcome independent of where the faults happen to land.
            void Configure(RawOptions r) => r["DockerRetries"] = "8";

            var log = new CapturingBuildLog { OnLine = Console.WriteLine };
            var built = await new CacheEngine(Options(proxy.Address, "a", dockerfile, Configure), log).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, built.Result, log.AllText);
            Assert.AreEqual(0, log.ToolErrors.Count, "recovered faults leave no MSBuild errors:\n" + string.Join("\n", log.ToolErrors));

            // Another "machine": nothing local, so the hit is pulled through the faulty proxy.
            RealDocker.RemoveRepository(proxy.Address + "/" + _repository);
            var log2 = new CapturingBuildLog();
            var pulled = await new CacheEngine(Options(proxy.Address, "b", dockerfile, Configure), log2).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.HitPulled, pulled.Result, log2.AllText);
            Assert.AreEqual(built.Reference, pulled.Reference);
            Assert.IsTrue(RealDocker.ImageExists(pulled.Reference));

            var requests = proxy.Log.ToList();
            var faulted = requests.Count(r => r.Fault != FaultKind.None);
            Console.WriteLine($"{requests.Count} requests through the proxy, {faulted} faulted: " + string.Join(", ", requests.GroupBy(r => r.Fault).Select(g => g.Key + "=" + g.Count())));
            Assert.IsTrue(faulted >= 3, $"the proxy really injected faults ({faulted} of {requests.Count})");
            Assert.IsTrue(requests.Any(r => r.Fault == FaultKind.ServiceUnavailable || r.Fault == FaultKind.TooManyRequests), "503/429 among them");
        }

        [TestMethod]
        [TestCategory(Categories.Registry)]
        public async Task PushFailingHalfWay_FailsTheBuild_AndNothingClaimsTheImage()
        {
            RealDocker.Require();

            // Layers upload fine; every manifest PUT fails, so the push dies after the blobs: "half-way".
            using var proxy = new FaultProxy(TestServices.Registry)
            {
                Decide = (method, path) => method == "PUT" && path.Contains("/manifests/", StringComparison.Ordinal) && !path.EndsWith("-lease", StringComparison.Ordinal) ? FaultKind.InternalError : FaultKind.None,
            };
            var log = new CapturingBuildLog();
            var options = Options(proxy.Address, "a", "FROM " + RealDocker.BaseImage + "\nRUN echo half > /half.txt\n", r => r["DockerRetries"] = "1");
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => new CacheEngine(options, log).EnsureAsync(Timeout()));
            Assert.AreEqual("ECRC1221", ex.Diagnostic.Code, log.AllText);
            Assert.IsTrue(proxy.Log.Any(r => r.Method == "PUT" && r.Path.Contains("/blobs/uploads/", StringComparison.Ordinal)), "blobs were uploaded before the manifest failed");

            Assert.IsFalse(File.Exists(Stamp("a")), "no stamp claims the image exists");
            Assert.IsFalse(File.Exists(options.EnvFile), "no env file exports it");
            Assert.AreEqual(0, RealDocker.Tags(proxy.Address + "/" + _repository).Count(t => !t.EndsWith(":latest", StringComparison.Ordinal)), "the local tag is removed so the next run pushes again");
            using var client = new RegistryClient(RegistryEndpoint.Parse(TestServices.Registry, false), new NoCredentials(), new RecordingLog());
            var key = File.ReadAllText(Path.Combine(_dir, "obj", "a", CacheEngine.KeyFileName)).Trim();
            Assert.IsNull(await client.HeadManifestAsync(_repository, key.Substring(0, EcrCache.Keys.CacheKeyCalculator.TagLength), CancellationToken.None), "the registry has no manifest for the tag");
            var lease = await new EcrCache.Leases.RegistryLeaseBackend(client, _repository, "registry").ReadAsync(key.Substring(0, EcrCache.Keys.CacheKeyCalculator.TagLength), CancellationToken.None);
            Assert.IsTrue(lease == null || !lease.IsHeldAt(DateTimeOffset.UtcNow), "the lease was released on failure");
        }

        [TestMethod]
        public async Task RegistryDown_IsACodedErrorWithin30Seconds_AndNothingIsBuilt()
        {
            RealDocker.Require();
            var dead = "127.0.0.1:" + Ports.Free();
            var options = Options(dead, "a", "FROM " + RealDocker.BaseImage + "\nRUN echo never > /never.txt\n");
            var clock = Stopwatch.StartNew();
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => new CacheEngine(options, new CapturingBuildLog()).EnsureAsync(Timeout()));
            clock.Stop();
            Assert.AreEqual("ECRC1301", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, dead);

            // The bound for this failure path: retries end within the HTTP deadline, well under 30 s.
            Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed.TotalSeconds:0.0} s");
            Assert.AreEqual(0, RealDocker.Tags(dead + "/" + _repository).Count);
        }

        [TestMethod]
        [TestCategory(Categories.Registry)]
        [DataRow(false, DisplayName = "same host: per-key lock")]
        [DataRow(true, DisplayName = "different hosts: registry lease tag")]
        public async Task ParallelBuildsOfOneKey_BuildOnce(bool separateLockFolders)
        {
            RealDocker.Require();
            var registry = TestServices.Registry;
            // A step of its own (the nonce): BuildKit's cache of an earlier run would finish the build before the other
            // two engines computed their key, and there would be nobody left to wait.
            var dockerfile = "FROM " + RealDocker.BaseImage + "\nRUN sleep 4 && echo once-" + Guid.NewGuid().ToString("N") + " > /once.txt\n";
            var logs = new List<CapturingBuildLog>();
            var runs = new List<Task<CacheResult>>();
            for (var i = 0; i < 3; i++)
            {
                var name = "p" + i;
                var lockDir = Path.Combine(_dir, separateLockFolders ? "locks-" + name : "locks");
                var options = Options(registry, name, dockerfile, r => r.Environment = n => n == "ECRCACHE_LOCK_DIR" ? lockDir : null);
                var log = new CapturingBuildLog();
                logs.Add(log);
                var engine = new CacheEngine(options, log);
                runs.Add(Task.Run(() => engine.EnsureAsync(Timeout())));
            }

            var results = await Task.WhenAll(runs);
            var all = string.Join("\n----\n", logs.Select(l => l.AllText));
            Assert.AreEqual(1, results.Count(r => r.Result == CacheResult.Built), "exactly one build: " + string.Join(", ", results.Select(r => r.Result)) + "\n" + all);
            Assert.AreEqual(1, results.Select(r => r.Reference).Distinct().Count());
            var started = logs.Where(l => l.AllText.Contains("Cache miss for", StringComparison.Ordinal) && l.AllText.Contains("Building with", StringComparison.Ordinal)).ToList();
            Assert.AreEqual(1, started.Count(l => !l.AllText.Contains("lost the race for", StringComparison.Ordinal)), "exactly one build runs to its end:\n" + all);
            if (!separateLockFolders)
            {
                // One host: the per-key lock is exact, so nobody else even starts.
                Assert.AreEqual(1, started.Count, all);
            }

            // Across hosts a registry lease is claimed by write-then-read-back beside the build (docs/reliability.md): a
            // build that wrote in the same instant as the winner may have started, and must have stopped on the read-back.
            Assert.IsTrue(logs.Any(l => l.AllText.Contains("is being built by", StringComparison.Ordinal)), "a waiter says who holds the lock or lease:\n" + all);
            foreach (var log in logs)
            {
                Assert.AreEqual(0, log.Warnings.Count(w => w.Code is "ECRC1320" or "ECRC1321" or "ECRC1902"), log.AllText);
            }
        }

        private sealed class NoCredentials : IRegistryCredentialProvider
        {
            public Task<RegistryCredential?> GetAsync(string host, CancellationToken cancellationToken) => Task.FromResult<RegistryCredential?>(null);
        }
    }
}
