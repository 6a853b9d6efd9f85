using EcrCache.Keys;

namespace EcrCache.Tasks.Tests.Keys
{
    /// <summary>
    /// The input stamp on real files: what must make it stop vouching for a key, including content changes that keep the
    /// size and the modification time. "Later" is simulated by taking the stamp with a clock an hour ahead, so files
    /// written by the test are not racy; the racy test uses the real clock.
    /// </summary>
    [TestClass]
    public sealed class InputStampTests
    {
        private static readonly DateTime OldTime = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        private static readonly DateTimeOffset Later = DateTimeOffset.UtcNow.AddHours(1);
        private const string Key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

        private string _dir = "";
        private string _obj = "";

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-stamp");
            _obj = Path.Combine(_dir, "obj");
            Write("Dockerfile", "FROM busybox\n");
            Write("a/package.json", "{\"name\":\"a\",\"version\":\"1.0.0\"}\n");
            Write("b/package.json", "{\"name\":\"b\",\"version\":\"1.0.0\"}\n");
        }

        private string Write(string relative, string text)
        {
            var path = Path.Combine(_dir, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, text);
            File.SetLastWriteTimeUtc(path, OldTime);
            return path;
        }

        private KeyInputs Inputs(Action<KeyInputs>? configure = null)
        {
            var inputs = new KeyInputs { DockerfilePath = Path.Combine(_dir, "Dockerfile"), Platform = "linux/amd64" };
            inputs.BuildArgs.Add(new KeyValuePair<string, string?>("NODE_ENV", "ci"));
            inputs.CacheOn.Add(new CacheOnInput(Path.Combine(_dir, "a", "package.json"), "a/package.json"));
            inputs.CacheOn.Add(new CacheOnInput(Path.Combine(_dir, "b", "package.json"), "b/package.json", ".version"));
            configure?.Invoke(inputs);
            return inputs;
        }

        private void SaveStamp(KeyInputs inputs)
        {
            var stamp = InputStamp.Take(inputs, Later);
            Assert.IsTrue(stamp.Trusted, stamp.UntrustedReason);
            stamp.Save(_obj, "linux/amd64", Key);
        }

        private StampedKey? Read(KeyInputs inputs) => InputStamp.Take(inputs, Later).TryRead(_obj);

        [TestMethod]
        public void UnchangedInputs_ReadBackTheKeyAndPlatform()
        {
            SaveStamp(Inputs());
            var stamped = Read(Inputs());
            Assert.IsNotNull(stamped);
            Assert.AreEqual(Key, stamped.KeyHash);
            Assert.AreEqual("linux/amd64", stamped.Platform);
            Assert.AreEqual(3, InputStamp.Take(Inputs(), Later).Files, "the Dockerfile and both CacheOn files");
        }

        [TestMethod]
        public void SavingTheSameStampAgain_DoesNotWriteTheFile()
        {
            SaveStamp(Inputs());
            var path = Path.Combine(_obj, InputStamp.FileName);
            File.SetLastWriteTimeUtc(path, OldTime);
            SaveStamp(Inputs());
            Assert.AreEqual(OldTime, File.GetLastWriteTimeUtc(path), "an unchanged stamp is not rewritten");
            Assert.AreEqual(1, Directory.GetFiles(_obj).Length, "no temporary file is left behind");
        }

        [TestMethod]
        public void PlatformIsNotPartOfTheFingerprint_ButIsReturned()
        {
            SaveStamp(Inputs());
            var stamped = Read(Inputs(i => i.Platform = "linux/arm64"));
            Assert.IsNotNull(stamped, "another platform reuses the file metadata");
            Assert.AreEqual("linux/amd64", stamped.Platform, "the caller sees that the stamped platform differs");
        }

        [TestMethod]
        public void ContentChangeWithTheSameSizeAndMtime_InvalidatesTheStamp()
        {
            if (!FileStat.HasChangeTime)
            {
                Assert.Inconclusive("ctime is only read on Linux (statx); elsewhere such a change is not detected (documented).");
            }

            SaveStamp(Inputs());
            var path = Path.Combine(_dir, "a", "package.json");
            var before = FileStat.Of(path);
            File.WriteAllText(path, "{\"name\":\"a\",\"version\":\"9.9.9\"}\n"); // same length
            File.SetLastWriteTimeUtc(path, OldTime);
            var after = FileStat.Of(path);
            Assert.AreEqual(before.Size, after.Size, "precondition: same size");
            Assert.AreEqual(before.MtimeSeconds, after.MtimeSeconds, "precondition: same mtime");
            Assert.AreEqual(before.MtimeNanoseconds, after.MtimeNanoseconds, "precondition: same mtime");
            Assert.AreEqual(before.Inode, after.Inode, "precondition: same inode (rewritten in place)");

            Assert.IsNull(Read(Inputs()), "ctime moved, so the stamp must not vouch for the old key");
        }

        [TestMethod]
        public void FileReplacedByRename_WithTheSameSizeAndMtime_InvalidatesTheStamp()
        {
            SaveStamp(Inputs());
            var path = Path.Combine(_dir, "a", "package.json");
            var replacement = Write("a/package.json.new", "{\"name\":\"a\",\"version\":\"2.0.0\"}\n");
            File.Move(replacement, path, overwrite: true); // what editors and git do: write aside, rename over
            File.SetLastWriteTimeUtc(path, OldTime);
            Assert.AreEqual(FileStat.Of(path).Size, new FileInfo(path).Length);
            if (!FileStat.HasChangeTime)
            {
                Assert.Inconclusive("inode and ctime are only read on Linux (statx).");
            }

            Assert.IsNull(Read(Inputs()));
        }

        [TestMethod]
        public void EditedFile_NewMtime_InvalidatesTheStamp()
        {
            SaveStamp(Inputs());
            var path = Path.Combine(_dir, "b", "package.json");
            File.WriteAllText(path, "{\"name\":\"b\",\"version\":\"1.0.1\"}\n");
            File.SetLastWriteTimeUtc(path, OldTime.AddSeconds(1));
            Assert.IsNull(Read(Inputs()));
        }

        [TestMethod]
        public void DockerfileChange_InvalidatesTheStamp()
        {
            SaveStamp(Inputs());
            Write("Dockerfile", "FROM busybox:2\n");
            Assert.IsNull(Read(Inputs()));
        }

        [TestMethod]
        public void EveryNonFileInput_IsPartOfTheFingerprint()
        {
            SaveStamp(Inputs());
            var variants = new Dictionary<string, Action<KeyInputs>>
            {
                ["build-arg value"] = i => i.BuildArgs[0] = new KeyValuePair<string, string?>("NODE_ENV", "prod"),
                ["build-arg added"] = i => i.BuildArgs.Add(new KeyValuePair<string, string?>("X", "")),
                ["build-arg unset"] = i => i.BuildArgs[0] = new KeyValuePair<string, string?>("NODE_ENV", null),
                ["target"] = i => i.Target = "deps",
                ["additional build args"] = i => i.AdditionalBuildArgs = "--network host",
                ["base image digest"] = i => i.BaseImages.Add(new KeyValuePair<string, string>("docker.io/library/busybox:latest linux/amd64", "sha256:" + new string('1', 64))),
                ["extra input"] = i => i.ExtraInputs.Add(new KeyValuePair<string, string>("x", "y")),
                ["JsonPath"] = i => i.CacheOn[1] = new CacheOnInput(i.CacheOn[1].FullPath, "b/package.json", ".name"),
                ["relative path"] = i => i.CacheOn[0] = new CacheOnInput(i.CacheOn[0].FullPath, "x/package.json"),
                ["file removed"] = i => i.CacheOn.RemoveAt(1),
                ["file added"] = i => i.CacheOn.Add(new CacheOnInput(Path.Combine(_dir, "Dockerfile"), "Dockerfile")),
                ["inline Dockerfile"] = i =>
                {
                    i.DockerfilePath = null;
                    i.DockerfileInline = "FROM busybox\n";
                },
            };
            foreach (var variant in variants)
            {
                Assert.IsNull(Read(Inputs(variant.Value)), variant.Key + " must change the fingerprint");
            }

            Assert.IsNotNull(Read(Inputs()), "and the original still matches");

            var empty = Inputs(i => i.BuildArgs[0] = new KeyValuePair<string, string?>("NODE_ENV", ""));
            SaveStamp(empty);
            Assert.IsNull(Read(Inputs(i => i.BuildArgs[0] = new KeyValuePair<string, string?>("NODE_ENV", null))), "unset is not the empty string");
            SaveStamp(Inputs());

            var withDigest = Inputs(i => i.BaseImages.Add(new KeyValuePair<string, string>("docker.io/library/busybox:latest linux/amd64", "sha256:" + new string('1', 64))));
            SaveStamp(withDigest);
            Assert.IsNotNull(Read(withDigest));
            Assert.IsNull(Read(Inputs(i => i.BaseImages.Add(new KeyValuePair<string, string>("docker.io/library/busybox:latest linux/amd64", "sha256:" + new string('2', 64))))), "a re-pushed base image");
        }

        [TestMethod]
        public void RecentlyChangedFile_IsRacy_SoNoStampIsSaved_AndAnOldOneIsRemoved()
        {
            SaveStamp(Inputs());
            var path = Path.Combine(_dir, "a", "package.json");
            File.WriteAllText(path, "{\"name\":\"a\",\"version\":\"1.0.1\"}\n"); // mtime and ctime: now
            var stamp = InputStamp.Take(Inputs()); // the real clock
            Assert.IsFalse(stamp.Trusted);
            StringAssert.Contains(stamp.UntrustedReason, "changed less than");
            Assert.IsNull(stamp.TryRead(_obj));
            stamp.Save(_obj, "linux/amd64", Key);
            Assert.IsFalse(File.Exists(Path.Combine(_obj, InputStamp.FileName)), "an untrusted stamp removes the old one");
        }

        [TestMethod]
        public void MissingFile_IsNotTrusted()
        {
            var inputs = Inputs(i => i.CacheOn.Add(new CacheOnInput(Path.Combine(_dir, "gone.json"), "gone.json")));
            var stamp = InputStamp.Take(inputs, Later);
            Assert.IsFalse(stamp.Trusted);
            StringAssert.Contains(stamp.UntrustedReason, "gone.json");
        }

        [TestMethod]
        public void MissingOptionalFile_IsTrusted_AndCreatingItChangesTheFingerprint()
        {
            var path = Path.Combine(_dir, "sub", "optional.json");
            KeyInputs WithOptional() => Inputs(i => i.CacheOn.Add(new CacheOnInput(path, "sub/optional.json", optional: true)));
            SaveStamp(WithOptional());
            Assert.IsNotNull(Read(WithOptional()), "an absent Optional file keeps the no-op fast path");
            Assert.IsNull(Read(Inputs(i => i.CacheOn.Add(new CacheOnInput(path, "sub/optional.json")))), "Optional is part of the fingerprint");
            Write("sub/optional.json", "{}");
            Assert.IsNull(Read(WithOptional()), "the file appearing must be noticed");
        }

        [TestMethod]
        public void StampFromAnotherFormatOrGarbage_IsIgnored()
        {
            Directory.CreateDirectory(_obj);
            var path = Path.Combine(_obj, InputStamp.FileName);
            File.WriteAllText(path, "not json");
            Assert.IsNull(Read(Inputs()));
            SaveStamp(Inputs());
            File.WriteAllText(path, File.ReadAllText(path).Replace("\"version\": 1", "\"version\": 99", StringComparison.Ordinal));
            Assert.IsNull(Read(Inputs()));
        }

        [TestMethod]
        public void FileStat_SeesFoldersAsMissing_LikeFileExists()
        {
            Assert.IsFalse(FileStat.Of(_dir).Exists);
            Assert.IsFalse(FileStat.Of(Path.Combine(_dir, "nope")).Exists);
            var stat = FileStat.Of(Path.Combine(_dir, "Dockerfile"));
            Assert.IsTrue(stat.Exists);
            Assert.AreEqual(13, stat.Size);
            Assert.AreEqual(new DateTimeOffset(OldTime).ToUnixTimeSeconds(), stat.MtimeSeconds);
            var many = FileStat.OfMany(Enumerable.Repeat(Path.Combine(_dir, "Dockerfile"), 2500).ToList());
            Assert.IsTrue(many.All(s => s.Exists && s.Size == 13), "the parallel path agrees");
        }
    }
}
