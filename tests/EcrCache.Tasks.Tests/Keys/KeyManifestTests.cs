using EcrCache.Keys;

namespace EcrCache.Tasks.Tests.Keys
{
    [TestClass]
    public sealed class KeyManifestTests
    {
        private static KeyManifest Sample() => new KeyManifest(1, new[]
        {
            new KeyManifestEntry("algorithm", "ecrcache", "1"),
            new KeyManifestEntry("dockerfile", "Dockerfile", new string('a', 64)),
            new KeyManifestEntry("platform", "", "linux/amd64"),
            new KeyManifestEntry("build-arg", "VERSION", new string('b', 64)),
            new KeyManifestEntry("file", "src/é \"q\"\\x\ty", new string('c', 64)),
            new KeyManifestEntry("extra", "base", "sha256:1234"),
        });

        [TestMethod]
        public void ToJsonIsIndentedAndDeterministic()
        {
            var json = Sample().ToJson();
            Assert.AreEqual(
                "{\n"
                + "  \"version\": 1,\n"
                + "  \"entries\": [\n"
                + "    {\"kind\": \"algorithm\", \"name\": \"ecrcache\", \"hash\": \"1\"},\n"
                + "    {\"kind\": \"dockerfile\", \"name\": \"Dockerfile\", \"hash\": \"" + new string('a', 64) + "\"},\n"
                + "    {\"kind\": \"platform\", \"name\": \"\", \"hash\": \"linux/amd64\"},\n"
                + "    {\"kind\": \"build-arg\", \"name\": \"VERSION\", \"hash\": \"" + new string('b', 64) + "\"},\n"
                + "    {\"kind\": \"file\", \"name\": \"src/é \\\"q\\\"\\\\x\\ty\", \"hash\": \"" + new string('c', 64) + "\"},\n"
                + "    {\"kind\": \"extra\", \"name\": \"base\", \"hash\": \"sha256:1234\"}\n"
                + "  ]\n"
                + "}",
                json);
            Assert.AreEqual(json, Sample().ToJson());
            Assert.AreEqual("{\n  \"version\": 1,\n  \"entries\": []\n}", new KeyManifest(1, Array.Empty<KeyManifestEntry>()).ToJson());
        }

        [TestMethod]
        public void JsonRoundTrips()
        {
            var original = Sample();
            var read = KeyManifest.FromJson(original.ToJson());
            Assert.AreEqual(original.Version, read.Version);
            CollectionAssert.AreEqual(original.Entries.ToList(), read.Entries.ToList());
            Assert.AreEqual(original.ToJson(), read.ToJson());
            Assert.AreEqual(original.ComputeKeyHash(), read.ComputeKeyHash());
            Assert.AreEqual(new CacheKey(original).Hash, new CacheKey(read).Hash);
        }

        [TestMethod]
        public void FromJsonAcceptsAnyFormattingAndIgnoresUnknownMembers()
        {
            var read = KeyManifest.FromJson("{\"entries\":[{\"hash\":\"1\",\"name\":\"ecrcache\",\"kind\":\"algorithm\",\"note\":0}],\"version\":2,\"key\":\"x\"}");
            Assert.AreEqual(2, read.Version);
            Assert.AreEqual(new KeyManifestEntry("algorithm", "ecrcache", "1"), read.Entries.Single());
        }

        [TestMethod]
        [DataRow("")]
        [DataRow("not json")]
        [DataRow("[]")]
        [DataRow("{\"version\":1}")]
        [DataRow("{\"version\":\"1\",\"entries\":[]}")]
        [DataRow("{\"version\":1.5,\"entries\":[]}")]
        [DataRow("{\"version\":1,\"entries\":{}}")]
        [DataRow("{\"version\":1,\"entries\":[{\"kind\":\"a\",\"name\":\"b\"}]}")]
        [DataRow("{\"version\":1,\"entries\":[{\"kind\":\"a\",\"name\":null,\"hash\":\"c\"}]}")]
        [DataRow("{\"version\":1,\"entries\":[1]}")]
        public void FromJsonRejectsOtherText(string json)
        {
            Assert.ThrowsExactly<FormatException>(() => KeyManifest.FromJson(json));
            Assert.IsFalse(KeyManifest.TryFromJson(json, out var manifest));
            Assert.IsNull(manifest);
        }

        [TestMethod]
        public void KeyTextEscapesFieldsSoNamesCannotFakeSeparators()
        {
            var tricky = new KeyManifest(1, new[] { new KeyManifestEntry("file", "a\tb\nfile\tc\r\\", "h") });
            Assert.AreEqual("file\ta\\tb\\nfile\\tc\\r\\\\\th\n", tricky.ToKeyText());

            // Without escaping these two manifests would have the same key text.
            var one = new KeyManifest(1, new[] { new KeyManifestEntry("file", "a\tx\nfile\tb", "h") });
            var two = new KeyManifest(1, new[] { new KeyManifestEntry("file", "a", "x"), new KeyManifestEntry("file", "b", "h") });
            Assert.AreNotEqual(one.ComputeKeyHash(), two.ComputeKeyHash());

            var backslash = new KeyManifest(1, new[] { new KeyManifestEntry("file", "a\\tb", "h") });
            var tab = new KeyManifest(1, new[] { new KeyManifestEntry("file", "a\tb", "h") });
            Assert.AreNotEqual(backslash.ComputeKeyHash(), tab.ComputeKeyHash());
        }

        [TestMethod]
        public void DiffReportsAddedRemovedAndChanged()
        {
            var previous = Sample();
            var current = new KeyManifest(1, new[]
            {
                new KeyManifestEntry("algorithm", "ecrcache", "1"),
                new KeyManifestEntry("dockerfile", "Dockerfile", new string('d', 64)), // changed
                new KeyManifestEntry("target", "", "final"),                          // added
                new KeyManifestEntry("platform", "", "linux/arm64"),                  // changed
                new KeyManifestEntry("build-arg", "VERSION", new string('b', 64)),     // same
                new KeyManifestEntry("file", "new.json", new string('e', 64)),          // added
                new KeyManifestEntry("extra", "base", "sha256:1234"),                  // same; file src/... removed
            });

            var diff = KeyManifest.Diff(previous, current);
            Assert.IsTrue(diff.HasPrevious);
            Assert.IsFalse(diff.IsEmpty);
            CollectionAssert.AreEqual(new[] { "target:", "file:new.json" }, diff.Added.Select(e => e.Kind + ":" + e.Name).ToArray());
            CollectionAssert.AreEqual(new[] { "file:src/é \"q\"\\x\ty" }, diff.Removed.Select(e => e.Kind + ":" + e.Name).ToArray());
            CollectionAssert.AreEqual(new[] { "dockerfile:Dockerfile", "platform:" }, diff.Changed.Select(e => e.Kind + ":" + e.Name).ToArray());
            Assert.AreEqual("linux/amd64", diff.Changed[1].PreviousHash);
            Assert.AreEqual("linux/arm64", diff.Changed[1].CurrentHash);

            var lines = diff.Describe();
            CollectionAssert.Contains(lines.ToList(), "dockerfile 'Dockerfile' changed");
            CollectionAssert.Contains(lines.ToList(), "platform changed from 'linux/amd64' to 'linux/arm64'");
            CollectionAssert.Contains(lines.ToList(), "target added ('final')");
            CollectionAssert.Contains(lines.ToList(), "file 'new.json' added");
            Assert.AreEqual(5, lines.Count);
        }

        [TestMethod]
        public void DiffOfEqualManifestsIsEmpty()
        {
            var diff = KeyManifest.Diff(Sample(), Sample());
            Assert.IsTrue(diff.IsEmpty);
            Assert.AreEqual(0, diff.Describe().Count);
        }

        [TestMethod]
        public void DiffWithoutPreviousAddsEverything()
        {
            var diff = KeyManifest.Diff(null, Sample());
            Assert.IsFalse(diff.HasPrevious);
            Assert.IsFalse(diff.IsEmpty);
            Assert.AreEqual(Sample().Entries.Count, diff.Added.Count);
            Assert.AreEqual(0, diff.Removed.Count + diff.Changed.Count);
            Assert.AreEqual(1, diff.Describe().Count);
        }

        [TestMethod]
        public void DiffReportsAnAlgorithmVersionChange()
        {
            var v2 = new KeyManifest(2, new[] { new KeyManifestEntry("algorithm", "ecrcache", "2") });
            var diff = KeyManifest.Diff(Sample(), v2);
            Assert.AreEqual(1, diff.PreviousVersion);
            Assert.AreEqual(2, diff.CurrentVersion);
            Assert.AreEqual("the key algorithm version changed from 1 to 2", diff.Describe()[0]);
            Assert.AreEqual("algorithm 'ecrcache' changed from '1' to '2'", diff.Describe()[1]);
        }
    }
}
