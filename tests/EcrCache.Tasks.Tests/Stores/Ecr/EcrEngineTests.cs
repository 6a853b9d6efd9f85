using EcrCache.Core;
using EcrCache.Options;
using EcrCache.Tasks.Tests.Core;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Stores.Ecr
{
    /// <summary>
    /// The whole engine with EcrCacheProvider=ecr: moto as the control plane, the open docker-registry from
    /// services.env as the data plane (EcrCacheRegistry). moto's authorization token is fake; the open registry ignores it.
    /// </summary>
    [TestClass]
    [TestCategory(Categories.Docker)]
    [TestCategory(Categories.Registry)]
    [TestCategory(Categories.Moto)]
    public sealed class EcrEngineTests
    {
        private string _dir = "";
        private string _repository = "";
        private string _image = "";

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-ecr-engine");
            _repository = Moto.UniqueRepository("build-cache/ecr-engine");
            File.WriteAllText(Path.Combine(_dir, "package.json"), "{\"name\":\"ecr\"}\n");
        }

        [TestCleanup]
        public void TearDown()
        {
            if (_image.Length > 0)
            {
                RealDocker.RemoveRepository(_image);
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
        public async Task Miss_BuildsAndPushes_ThenHitPulls()
        {
            var endpoint = Moto.Endpoint;
            var registry = TestServices.Registry;
            RealDocker.Require();
            var home = Path.Combine(_dir, "home");
            Directory.CreateDirectory(home);
            var environment = Moto.Environment(endpoint, new Dictionary<string, string> { ["HOME"] = home, ["AWS_REGION"] = "us-west-2" });
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "ecr",
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache"),
                ["DockerfileInline"] = "FROM " + RealDocker.BaseImage + "\nLABEL org.ecrcache.test=\"ecr\"\n",
                ["Provider"] = "ecr",
                ["Registry"] = registry,
                ["Repository"] = _repository,
                ["DockerPath"] = RealDocker.Executable,
                Environment = environment,
            };
            raw.CacheOn.Add(new RawItem("package.json"));
            raw.EcrTags.Add(new RawItem("team", new Dictionary<string, string> { ["Value"] = "platform" }));
            var options = OptionsParser.Parse(raw, new RecordingLog());
            _image = registry + "/" + _repository;

            var log = new RecordingLog();
            var first = await new CacheEngine(options, log).EnsureAsync(CancellationToken.None);
            Assert.AreEqual(CacheResult.Built, first.Result, log.All);
            Assert.AreEqual(_image, first.Image);
            StringAssert.Contains(log.All, "ECR CreateRepository (us-west-2)");

            RealDocker.RemoveRepository(_image);
            Assert.IsFalse(RealDocker.ImageExists(first.Reference));

            var log2 = new RecordingLog();
            var second = await new CacheEngine(options, log2).EnsureAsync(CancellationToken.None);
            Assert.AreEqual(CacheResult.HitPulled, second.Result, log2.All);
            Assert.AreEqual(first.Reference, second.Reference);
            Assert.IsTrue(RealDocker.ImageExists(second.Reference));
            Assert.IsFalse(log2.All.Contains("ECR PutLifecyclePolicy", StringComparison.Ordinal), "the policy was already in place");
            Assert.IsFalse(log2.All.Contains("ECR CreateRepository", StringComparison.Ordinal));

        }

        [TestMethod]
        public async Task LocalHit_MakesNoAwsCall_EvenWithTheControlPlaneGone()
        {
            var registry = TestServices.Registry;
            RealDocker.Require();
            var home = Path.Combine(_dir, "home");
            Directory.CreateDirectory(home);
            _image = registry + "/" + _repository;
            CacheOptions Options(string endpoint)
            {
                var raw = new RawOptions
                {
                    ProjectDirectory = _dir,
                    ProjectName = "ecr",
                    IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache"),
                    ["DockerfileInline"] = "FROM " + RealDocker.BaseImage + "\nLABEL org.ecrcache.test=\"ecr-noop\"\n",
                    ["Provider"] = "ecr",
                    ["Registry"] = registry,
                    ["Repository"] = _repository,
                    ["DockerPath"] = RealDocker.Executable,
                    Environment = Moto.Environment(endpoint, new Dictionary<string, string> { ["HOME"] = home, ["AWS_REGION"] = "us-west-2" }),
                };
                raw.CacheOn.Add(new RawItem("package.json"));
                return OptionsParser.Parse(raw, new RecordingLog());
            }

            CacheResult first;
            string endpoint;
            using (var moto = OwnMotoServer.Start(new Dictionary<string, string>()))
            {
                endpoint = moto.Endpoint;
                var log = new RecordingLog();
                first = await new CacheEngine(Options(endpoint), log).EnsureAsync(CancellationToken.None);
                Assert.AreEqual(CacheResult.Built, first.Result, log.All);
                StringAssert.Contains(log.All, "ECR DescribeRepositories");
            }

            // moto is stopped: any AWS call would now fail. The no-op knows the repository URI from ensured.json.
            var log2 = new RecordingLog();
            var second = await new CacheEngine(Options(endpoint), log2).EnsureAsync(CancellationToken.None);
            Assert.AreEqual(CacheResult.HitLocal, second.Result, log2.All);
            Assert.AreEqual(first.Reference, second.Reference);
            Assert.IsFalse(log2.Lines.Any(l => l.StartsWith("ECR ", StringComparison.Ordinal)), "no ECR call on a local hit:\n" + log2.All);

            // Other store settings (here another region) resolve the store again: the stamped URI is not trusted for them.
            var raw2 = Options(endpoint);
            raw2.EcrRegion = "eu-central-1";
            var log3 = new RecordingLog();
            var ex = await Assert.ThrowsExactlyAsync<EcrCache.Diagnostics.EcrCacheException>(() => new CacheEngine(raw2, log3).EnsureAsync(CancellationToken.None));
            StringAssert.Contains(log3.All, "ECR DescribeRepositories", "the store was created, and failed with moto gone: " + ex.Message);
        }
    }
}
