using EcrCache.Keys;
using EcrCache.Keys.Explain;

namespace EcrCache.Tasks.Tests.Keys
{
    [TestClass]
    public sealed class MissExplanationTests
    {
        private static KeyManifest Manifest(params (string Kind, string Name, string Hash)[] entries) =>
            new KeyManifest(KeyManifest.AlgorithmVersion, entries.Select(e => new KeyManifestEntry(e.Kind, e.Name, e.Hash)));

        [TestMethod]
        public void NamesFilesAndArgsButNeverArgValues()
        {
            var before = Manifest(("dockerfile", "Dockerfile", "d1"), ("platform", "", "linux/amd64"), ("base-image", "docker.io/library/node:20 linux/amd64", "sha256:old"),
                ("build-arg", "TOKEN_VERSION", "hash-of-secret-1"), ("file", "a.json", "f1"), ("file", "gone.txt", "g"));
            var after = Manifest(("dockerfile", "Dockerfile", "d1"), ("platform", "", "linux/arm64"), ("base-image", "docker.io/library/node:20 linux/amd64", "sha256:new"),
                ("build-arg", "TOKEN_VERSION", "hash-of-secret-2"), ("file", "a.json", "f2"), ("file", "new.txt", "n"));
            var lines = MissExplanation.Describe(before, after);
            CollectionAssert.AreEqual(
                new[]
                {
                    "platform changed: linux/amd64 -> linux/arm64",
                    "base image docker.io/library/node:20 linux/amd64 changed: sha256:old -> sha256:new",
                    "build arg TOKEN_VERSION changed",
                    "file a.json changed",
                    "file new.txt added",
                    "file gone.txt removed",
                },
                lines.ToArray());
            Assert.IsFalse(string.Join("\n", lines).Contains("hash-of-secret", StringComparison.Ordinal));
            Assert.AreEqual(0, MissExplanation.Describe(after, after).Count);
        }

        [TestMethod]
        public void AnOptionalFileThatAppearsOrGoesIsSaidInWords()
        {
            var absent = Manifest(("file", ".npmrc", "absent"));
            var present = Manifest(("file", ".npmrc", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
            CollectionAssert.AreEqual(new[] { "file .npmrc was created (it was absent)" }, MissExplanation.Describe(absent, present).ToArray());
            CollectionAssert.AreEqual(new[] { "file .npmrc no longer exists (Optional: keyed as absent)" }, MissExplanation.Describe(present, absent).ToArray());
        }

        [TestMethod]
        public void AnUnsetBuildArgIsShownAsUnset_NeverAsAValue()
        {
            var unset = CacheKeyCalculator.Compute(new KeyInputs { DockerfileInline = "FROM busybox\n", BuildArgs = { new KeyValuePair<string, string?>("NODE_VERSION", null) } });
            var set = CacheKeyCalculator.Compute(new KeyInputs { DockerfileInline = "FROM busybox\n", BuildArgs = { new KeyValuePair<string, string?>("NODE_VERSION", "22-secretish") } });
            var unsetEntry = unset.Manifest.Entries.Single(e => e.Kind == "build-arg");
            var setEntry = set.Manifest.Entries.Single(e => e.Kind == "build-arg");
            StringAssert.StartsWith(MissExplanation.DisplayValue(unsetEntry), "unset");
            Assert.AreEqual("sha256 of the value (not shown)", MissExplanation.DisplayValue(setEntry));
            CollectionAssert.AreEqual(new[] { "build arg NODE_VERSION changed (now unset: the Dockerfile's ARG default applies)" }, MissExplanation.Describe(set.Manifest, unset.Manifest).ToArray());
            CollectionAssert.AreEqual(new[] { "build arg NODE_VERSION changed (was unset)" }, MissExplanation.Describe(unset.Manifest, set.Manifest).ToArray());
            Assert.IsFalse(string.Join("\n", MissExplanation.Describe(unset.Manifest, set.Manifest)).Contains("22-secretish", StringComparison.Ordinal));
        }
    }
}
