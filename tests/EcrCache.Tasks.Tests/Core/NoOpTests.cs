using System.Collections.Concurrent;
using EcrCache.Core;
using EcrCache.Docker;
using EcrCache.Keys;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Core
{
    /// <summary>
    /// The no-op path with the real docker: a stamp check and one 'docker image inspect' (plus one for a local-only
    /// base image), no other process, no write.
    /// The input stamp ignores files changed in the last 2 s (racy), so these tests wait that long once after
    /// writing their inputs (the wait is for correctness, nothing is timed).
    /// </summary>
    [TestClass]
    [TestCategory(Categories.Docker)]
    public sealed class NoOpTests
    {
        private string _dir = "";
        private string _repository = "";
        private bool _usedDocker;

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-noop");
            _repository = "build-cache/noop-" + Guid.NewGuid().ToString("N").Substring(0, 16);
            File.WriteAllText(Path.Combine(_dir, "package.json"), "{\"name\":\"noop\",\"version\":\"1.0.0\"}\n");
            Directory.CreateDirectory(Path.Combine(_dir, "src"));
            File.WriteAllText(Path.Combine(_dir, "src", "index.js"), "module.exports = 1;\n");
        }

        [TestCleanup]
        public void TearDown()
        {
            if (_usedDocker)
            {
                RealDocker.RemoveRepository(_repository);
            }
        }

        private CacheOptions Options()
        {
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "noop",
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache"),
                ["DockerfileInline"] = "FROM " + RealDocker.BaseImage + "\nLABEL org.ecrcache.test=\"noop\"\n",
                ["Repository"] = _repository,
                ["DockerPath"] = RealDocker.Executable,
                Environment = _ => null,
            };
            raw.CacheOn.Add(new RawItem("package.json"));
            raw.CacheOn.Add(new RawItem("src/index.js"));
            raw.BuildArgs.Add(new RawItem("NODE_ENV", new Dictionary<string, string> { ["Value"] = "ci" }));
            return OptionsParser.Parse(raw, new CapturingBuildLog());
        }

        private static void WaitUntilNotRacy() => Thread.Sleep(InputStamp.RacyWindow + TimeSpan.FromMilliseconds(300));

        private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

        /// <summary>Every file under <paramref name="dir"/> with its length and modification time.</summary>
        private static SortedDictionary<string, string> Snapshot(string dir) =>
            new SortedDictionary<string, string>(
                Directory.GetFiles(dir, "*", SearchOption.AllDirectories).ToDictionary(
                    f => Path.GetRelativePath(dir, f),
                    f => new FileInfo(f).Length + "@" + File.GetLastWriteTimeUtc(f).Ticks),
                StringComparer.Ordinal);

        [TestMethod]
        public async Task NoOp_IsOneImageInspect_AndWritesNothing()
        {
            RealDocker.Require();
            _usedDocker = true;
            var first = await new CacheEngine(Options(), new CapturingBuildLog()).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, first.Result);
            WaitUntilNotRacy();

            var log2 = new CapturingBuildLog();
            var second = await new CacheEngine(Options(), log2).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.HitLocal, second.Result, log2.AllText);
            Assert.IsTrue(File.Exists(Path.Combine(_dir, "obj", "ecrcache", InputStamp.FileName)), "the first run with settled inputs saves the input stamp: " + log2.AllText);

            var before = Snapshot(_dir);
            var runner = new RecordingRunner();
            var log3 = new CapturingBuildLog();
            var third = await new CacheEngine(Options(), log3, runner).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.HitLocal, third.Result, log3.AllText);
            Assert.AreEqual(first.Reference, third.Reference);
            StringAssert.Contains(log3.AllText, "Inputs unchanged since the last run");
            // The base image here is local-only (not in any registry), which keys by its image id: one inspect for it
            // (docs/cache-key.md). A base image from a registry costs nothing here (its digest is cached).
            CollectionAssert.AreEqual(
                new[]
                {
                    RealDocker.Executable + " image inspect --format {{.Id}} " + RealDocker.BaseImage,
                    RealDocker.Executable + " image inspect --format {{.Os}}/{{.Architecture}} " + first.Reference,
                },
                runner.Commands.ToArray(),
                "exactly one process: docker image inspect; ran: " + string.Join(" | ", runner.Commands) + "\n" + log3.AllText);
            CollectionAssert.AreEqual(before.ToList(), Snapshot(_dir).ToList(), "a no-op writes no file (obj/ecrcache, env file, inputs)");
        }

        [TestMethod]
        public async Task ContentChangeWithTheSameSizeAndMtime_BetweenRuns_ChangesTheKey()
        {
            RealDocker.Require();
            if (!FileStat.HasChangeTime)
            {
                Assert.Inconclusive("ctime is only read on Linux (statx).");
            }

            var path = Path.Combine(_dir, "package.json");
            var mtime = new DateTime(2021, 6, 1, 0, 0, 0, DateTimeKind.Utc);
            File.SetLastWriteTimeUtc(path, mtime);
            WaitUntilNotRacy();
            var first = await new CacheEngine(Options(), new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            var log = new CapturingBuildLog();
            var again = await new CacheEngine(Options(), log).ComputeKeyAsync(Timeout());
            Assert.AreEqual(first.Hash, again.Hash);
            StringAssert.Contains(log.AllText, "Inputs unchanged since the last run", "precondition: the stamp is in use");

            File.WriteAllText(path, "{\"name\":\"noop\",\"version\":\"2.0.0\"}\n"); // the same length
            File.SetLastWriteTimeUtc(path, mtime);
            Assert.AreEqual(mtime, File.GetLastWriteTimeUtc(path));
            WaitUntilNotRacy(); // so only the ctime tells the change apart, not the racy-file rule
            var log2 = new CapturingBuildLog();
            var changed = await new CacheEngine(Options(), log2).ComputeKeyAsync(Timeout());
            Assert.AreNotEqual(first.Hash, changed.Hash, log2.AllText);
            Assert.IsFalse(log2.AllText.Contains("Inputs unchanged", StringComparison.Ordinal), log2.AllText);

            File.Delete(Path.Combine(_dir, "obj", "ecrcache", InputStamp.FileName));
            var fresh = await new CacheEngine(Options(), new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Assert.AreEqual(fresh.Hash, changed.Hash, "the same key as hashing from scratch");
        }

        [TestMethod]
        public async Task OptionsUsedAgain_AfterAnEdit_DoNotVouchForTheOldFiles()
        {
            // The parser stats each CacheOn file and the first key reuses those stats. Options kept and used for a
            // later run must not: here the edited file is older than the racy window, so only fresh stats see it.
            RealDocker.Require();
            var path = Path.Combine(_dir, "package.json");
            WaitUntilNotRacy();
            var options = Options();
            var first = await new CacheEngine(options, new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Assert.IsTrue(File.Exists(Path.Combine(_dir, "obj", "ecrcache", InputStamp.FileName)), "precondition: a stamp was saved");

            File.WriteAllText(path, "{\"name\":\"noop\",\"version\":\"3.0.0\"}\n"); // the same length
            WaitUntilNotRacy();
            var log = new CapturingBuildLog();
            var second = await new CacheEngine(options, log).ComputeKeyAsync(Timeout());
            Assert.AreNotEqual(first.Hash, second.Hash, log.AllText);
        }

        /// <summary>Runs the real processes and records their command lines.</summary>
        private sealed class RecordingRunner : IProcessRunner
        {
            public ConcurrentQueue<string> Commands { get; } = new ConcurrentQueue<string>();

            public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken)
            {
                Commands.Enqueue(spec.FileName + " " + string.Join(" ", spec.Arguments));
                return ProcessRunner.Instance.RunAsync(spec, cancellationToken);
            }
        }
    }
}
