using EcrCache.Core;
using EcrCache.Keys;

namespace EcrCache.Tasks.Tests.Core
{
    /// <summary>
    /// KeyStage without docker: a stamped key is reused only for the same inputs and platform, and whatever path it
    /// takes the key is exactly what CacheKeyCalculator computes from scratch. "Later" runs use a clock an hour ahead,
    /// so the files this test writes are not racy.
    /// </summary>
    [TestClass]
    public sealed class KeyStageTests
    {
        private static readonly DateTimeOffset Later = DateTimeOffset.UtcNow.AddHours(1);
        private string _dir = "";

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-keystage");
            for (var i = 0; i < 50; i++)
            {
                var path = Path.Combine(_dir, "p" + i, "package.json");
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllText(path, "{\"name\":\"p" + i + "\"}\n");
            }
        }

        private KeyInputs Inputs(string platform = "linux/amd64", string? baseDigest = null)
        {
            var inputs = new KeyInputs { DockerfileInline = "FROM busybox\n", Platform = platform, Target = "deps" };
            for (var i = 0; i < 50; i++)
            {
                inputs.CacheOn.Add(new CacheOnInput(Path.Combine(_dir, "p" + i, "package.json"), "p" + i + "/package.json"));
            }

            if (baseDigest != null)
            {
                inputs.BaseImages.Add(new KeyValuePair<string, string>("docker.io/library/busybox:latest " + platform, baseDigest));
            }

            return inputs;
        }

        private string Obj => Path.Combine(_dir, "obj");

        private CacheKey Run(KeyInputs inputs, CapturingBuildLog log) => KeyStage.Compute(inputs, Obj, null, log, CancellationToken.None, Later);

        [TestMethod]
        public void SecondRun_TakesTheKeyFromTheStamp_AndReadsTheManifestOnlyWhenAsked()
        {
            var first = Run(Inputs(), new CapturingBuildLog());
            Assert.AreEqual(CacheKeyCalculator.Compute(Inputs()).Hash, first.Hash);
            Assert.AreEqual(first.Hash + "\n", File.ReadAllText(Path.Combine(Obj, CacheEngine.KeyFileName)));
            Assert.IsTrue(File.Exists(Path.Combine(Obj, InputStamp.FileName)));

            var log = new CapturingBuildLog();
            var second = Run(Inputs(), log);
            StringAssert.Contains(log.AllText, "Inputs unchanged since the last run");
            Assert.AreEqual(first.Hash, second.Hash);
            Assert.AreEqual(first.Tag, second.Tag);
            Assert.AreEqual(first.Manifest.ToJson(), second.Manifest.ToJson(), "the lazily read manifest is the computed one");
        }

        [TestMethod]
        public void AnotherPlatformOrBaseDigest_HashesAgain_AndGivesTheFreshKey()
        {
            Run(Inputs(baseDigest: "sha256:" + new string('1', 64)), new CapturingBuildLog());
            foreach (var inputs in new[] { Inputs("linux/arm64", "sha256:" + new string('1', 64)), Inputs(baseDigest: "sha256:" + new string('2', 64)) })
            {
                var log = new CapturingBuildLog();
                var key = Run(inputs, log);
                Assert.IsFalse(log.AllText.Contains("Inputs unchanged", StringComparison.Ordinal), log.AllText);
                Assert.AreEqual(CacheKeyCalculator.Compute(inputs).Hash, key.Hash);
            }
        }

        [TestMethod]
        public void KeyFileChangedBehindOurBack_HashesAgain()
        {
            var first = Run(Inputs(), new CapturingBuildLog());
            File.WriteAllText(Path.Combine(Obj, CacheEngine.KeyFileName), new string('0', 64) + "\n");
            var log = new CapturingBuildLog();
            var again = Run(Inputs(), log);
            Assert.IsFalse(log.AllText.Contains("Inputs unchanged", StringComparison.Ordinal));
            Assert.AreEqual(first.Hash, again.Hash);
            Assert.AreEqual(first.Hash + "\n", File.ReadAllText(Path.Combine(Obj, CacheEngine.KeyFileName)), "rewritten");
        }
    }
}
