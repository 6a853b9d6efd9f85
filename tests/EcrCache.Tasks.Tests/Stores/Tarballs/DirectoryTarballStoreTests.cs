using EcrCache.IO;
using EcrCache.Core;
using EcrCache.Docker;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Stores.Tarballs;
using EcrCache.Tasks.Tests.Core;

namespace EcrCache.Tasks.Tests.Stores.Tarballs
{
    /// <summary>EcrCacheProvider=directory with the real docker daemon and a real folder.</summary>
    [TestClass]
    public sealed class DirectoryTarballStoreTests
    {
        private TarballProject _project = null!;
        private string _cache = "";

        [TestInitialize]
        public void SetUp()
        {
            _project = new TarballProject("ecrcache-dir");
            _cache = Path.Combine(_project.Directory, "docker-caches");
        }

        [TestCleanup]
        public void TearDown() => _project?.Dispose();

        private CacheOptions Options(Action<RawOptions>? configure = null) =>
            _project.Options("directory", _ => null, raw =>
            {
                raw["CacheDirectory"] = _cache;
                configure?.Invoke(raw);
            });

        private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

        private string Entry(string tag) => Path.Combine(_cache, tag + ".tar.gz");

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task Miss_WritesTheEntryAndLatest_ThenHitLoadsItWithoutBuilding()
        {
            RealDocker.Require();
            var log = new CapturingBuildLog();
            var first = await new CacheEngine(Options(), log).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, first.Result, log.AllText);
            Assert.IsTrue(File.Exists(Entry(first.Tag)), log.AllText);
            Assert.IsTrue(File.Exists(Entry("latest")), "EcrCachePushLatest (default true) maintains latest.tar.gz");
            CollectionAssert.AreEqual(Array.Empty<string>(), Directory.GetFiles(_cache, "*.tmp"), "no temp file is left behind");

            // The entry is what the CircleCI recipe would load by hand: gunzip -c | docker load.
            RealDocker.RemoveRepository(_project.Repository);
            var manual = Shell("gunzip -c '" + Entry(first.Tag) + "' | " + RealDocker.Executable + " load");
            StringAssert.Contains(manual, "Loaded image: " + first.Reference);

            RealDocker.RemoveRepository(_project.Repository);
            _project.ForgetStamp();
            var before = new FileInfo(Entry(first.Tag)).LastAccessTimeUtc;
            Thread.Sleep(20);
            var log2 = new CapturingBuildLog();
            var second = await new CacheEngine(Options(), log2).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.HitPulled, second.Result, log2.AllText);
            Assert.IsTrue(RealDocker.ImageExists(first.Reference));
            Assert.IsFalse(log2.AllText.Contains("Building with", StringComparison.Ordinal), log2.AllText);
            Assert.IsTrue(new FileInfo(Entry(first.Tag)).LastAccessTimeUtc > before, "a hit touches the entry (LRU)");
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task TruncatedEntry_IsIgnoredWithAWarning_DeletedAndRebuilt()
        {
            RealDocker.Require();
            var first = await new CacheEngine(Options(), new CapturingBuildLog()).EnsureAsync(Timeout());
            var whole = File.ReadAllBytes(Entry(first.Tag));
            File.WriteAllBytes(Entry(first.Tag), whole.Take(whole.Length / 2).ToArray());
            RealDocker.RemoveRepository(_project.Repository);
            _project.ForgetStamp();

            var log = new CapturingBuildLog();
            var second = await new CacheEngine(Options(), log).EnsureAsync(Timeout());

            Assert.AreEqual(CacheResult.Built, second.Result, log.AllText);
            CollectionAssert.Contains(log.WarningCodes.ToList(), "ECRC1742", log.AllText);
            StringAssert.Contains(log.Warnings.First(w => w.Code == "ECRC1742").Message, "the tarball is truncated", "caught by the gzip trailer check, before docker load sees the end of its input");
            Assert.IsTrue(new FileInfo(Entry(first.Tag)).Length > whole.Length / 2 + 1024, "the entry was rewritten whole");
            RealDocker.RemoveRepository(_project.Repository);
            StringAssert.Contains(Shell("gunzip -c '" + Entry(first.Tag) + "' | " + RealDocker.Executable + " load"), "Loaded image: " + first.Reference);
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task GarbageEntry_IsIgnoredAndRebuilt()
        {
            RealDocker.Require();
            var tag = (await new CacheEngine(Options(), new CapturingBuildLog()).EnsureAsync(Timeout())).Tag;
            File.WriteAllText(Entry(tag), "not a gzip stream at all");
            RealDocker.RemoveRepository(_project.Repository);
            _project.ForgetStamp();

            var log = new CapturingBuildLog();
            var result = await new CacheEngine(Options(), log).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, result.Result, log.AllText);
            CollectionAssert.Contains(log.WarningCodes.ToList(), "ECRC1742", log.AllText);
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task ConcurrentBuildsOfOneKey_BuildOnce_AndBothEndWithTheImage()
        {
            RealDocker.Require();
            var logs = new[] { new CapturingBuildLog(), new CapturingBuildLog() };

            // Two projects (two obj/ folders, as two agents sharing one cache folder) with the same inputs.
            var other = Path.Combine(_project.Directory, "other");
            Directory.CreateDirectory(other);
            File.Copy(Path.Combine(_project.Directory, "package.json"), Path.Combine(other, "package.json"));
            var options = new[]
            {
                Options(),
                Options(raw =>
                {
                    raw.ProjectDirectory = other;
                    raw.IntermediateDirectory = Path.Combine(other, "obj", "ecrcache");
                }),
            };
            var runs = Enumerable.Range(0, 2).Select(i => Task.Run(() => new CacheEngine(options[i], logs[i]).EnsureAsync(Timeout()))).ToArray();
            var results = await Task.WhenAll(runs);

            Assert.AreEqual(results[0].Reference, results[1].Reference, "same inputs, same key");
            var built = results.Count(r => r.Result == CacheResult.Built);
            Assert.AreEqual(1, built, "one build writes the entry; the other waits on the key's lock and loads it (or finds the image local):\n"
                + logs[0].AllText + "\n----\n" + logs[1].AllText);
            Assert.IsTrue(logs.Any(l => l.AllText.Contains("Another build holds", StringComparison.Ordinal)) || results.Any(r => r.Result == CacheResult.HitLocal),
                "the second build must have waited for the first");
            CollectionAssert.AreEqual(Array.Empty<string>(), Directory.GetFiles(_cache, "*.tmp"));
            RealDocker.RemoveRepository(_project.Repository);
            StringAssert.Contains(Shell("gunzip -c '" + Entry(results[0].Tag) + "' | " + RealDocker.Executable + " load"), "Loaded image: " + results[0].Reference);
        }

        [TestMethod]
        public void Prune_RemovesEntriesOlderThanMaxAge_AndLeftoverTempFiles()
        {
            Directory.CreateDirectory(_cache);
            var now = DateTime.UtcNow;
            WriteEntry("fresh", 10, now.AddDays(-1));
            WriteEntry("old", 10, now.AddDays(-8));
            var leftover = Path.Combine(_cache, "killed.tar.gz.0123abcd.tmp");
            File.WriteAllBytes(leftover, new byte[10]);
            File.SetLastWriteTimeUtc(leftover, now.AddHours(-1));
            var writing = Path.Combine(_cache, "writing.tar.gz.89abcdef.tmp");
            File.WriteAllBytes(writing, new byte[10]);
            File.SetLastWriteTimeUtc(writing, now.AddHours(-1));

            var log = new CapturingBuildLog();
            using var store = Store(maxAgeDays: 7, maxBytes: 0, log);
            using (FileLock.TryAcquire(store.LockPath("writing")))
            {
                store.Prune(keep: null);
            }

            CollectionAssert.AreEquivalent(new[] { "fresh.tar.gz", "writing.tar.gz.89abcdef.tmp" }, Directory.GetFiles(_cache).Select(Path.GetFileName).ToArray(), log.AllText);
            StringAssert.Contains(log.AllText, "EcrCacheMaxAgeDays=7");
        }

        [TestMethod]
        public void Prune_KeepsTheFolderUnderMaxSize_RemovingLeastRecentlyUsedFirst()
        {
            Directory.CreateDirectory(_cache);
            var now = DateTime.UtcNow;
            const int Mb = 1024 * 1024;
            WriteEntry("a", Mb, now.AddHours(-5), lastUsed: now.AddHours(-1));   // written first, used recently
            WriteEntry("b", Mb, now.AddHours(-4), lastUsed: now.AddHours(-4));   // least recently used
            WriteEntry("c", Mb, now.AddHours(-3), lastUsed: now.AddHours(-3));
            WriteEntry("d", Mb, now.AddHours(-2), lastUsed: now.AddHours(-2));   // locked by another build
            WriteEntry("new", Mb, now, lastUsed: now);

            var log = new CapturingBuildLog();
            using var store = Store(maxAgeDays: 0, maxBytes: 3L * Mb, log);
            using (FileLock.TryAcquire(store.LockPath("d")))
            {
                store.Prune(keep: store.EntryPath("new"));
            }

            // 5 MB over a 3 MB limit: b then c go (least recently used); d is locked, a was used recently, new is kept.
            CollectionAssert.AreEquivalent(new[] { "a.tar.gz", "d.tar.gz", "new.tar.gz" }, Directory.GetFiles(_cache, "*.tar.gz").Select(Path.GetFileName).ToArray(), log.AllText);
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task MaxSizeThroughTheEngine_PrunesOlderEntriesAfterAMiss()
        {
            RealDocker.Require();
            Directory.CreateDirectory(_cache);
            WriteEntry("someone-else", 3 * 1024 * 1024, DateTime.UtcNow.AddHours(-2));
            var log = new CapturingBuildLog();
            var result = await new CacheEngine(Options(raw => { raw["DirectoryMaxSizeMB"] = "2"; raw["PushLatest"] = "false"; }), log).EnsureAsync(Timeout());

            Assert.AreEqual(CacheResult.Built, result.Result, log.AllText);
            CollectionAssert.AreEquivalent(new[] { result.Tag + ".tar.gz" }, Directory.GetFiles(_cache, "*.tar.gz").Select(Path.GetFileName).ToArray(), log.AllText);
        }

        [TestMethod]
        public void MissingDirectoryProperty_IsECRC1750()
        {
            var ex = Assert.ThrowsExactly<EcrCache.Diagnostics.EcrCacheException>(() => _project.Options("directory", _ => null));
            Assert.AreEqual("ECRC1750", ex.Diagnostic.Code);
        }

        private DirectoryTarballStore Store(int maxAgeDays, long maxBytes, CapturingBuildLog log) =>
            new DirectoryTarballStore(_cache, "x", maxAgeDays, maxBytes, new DockerCli(RealDocker.Executable, ProcessRunner.Instance, log), log);

        private void WriteEntry(string name, int size, DateTime written, DateTime? lastUsed = null)
        {
            var path = Entry(name);
            File.WriteAllBytes(path, new byte[size]);
            File.SetLastWriteTimeUtc(path, written);
            File.SetLastAccessTimeUtc(path, lastUsed ?? written);
        }

        private static string Shell(string command)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var result = ProcessRunner.Instance.RunAsync(new ProcessSpec("/bin/sh", new[] { "-c", command }), cts.Token).GetAwaiter().GetResult();
            Assert.AreEqual(0, result.ExitCode, command + ": " + result.StandardError);
            return result.StandardOutput;
        }
    }
}
