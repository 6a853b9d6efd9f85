using EcrCache.Diagnostics;
using EcrCache.Keys;
using EcrCache.Keys.BaseImages;
using EcrCache.Keys.Explain;
using EcrCache.Options;
using EcrCache.Tasks.Tests.Core;

namespace EcrCache.Tasks.Tests.Options
{
    /// <summary>EcrCachePush, EcrCacheRequireHit, ImageTag items and the EcrCacheCacheFrom list, as the parsers read them.</summary>
    [TestClass]
    public sealed class CachePolicyOptionsTests
    {
        private string _dir = "";

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-policy-options");
            File.WriteAllText(Path.Combine(_dir, "Dockerfile"), "FROM busybox\n");
        }

        [TestCleanup]
        public void TearDown()
        {
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private RawOptions NewRaw()
        {
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "Policy",
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache") + Path.DirectorySeparatorChar,
                Environment = _ => null,
            };
            raw["Provider"] = "registry";
            raw["Registry"] = "registry.example.com";
            return raw;
        }

        private static RawItem ImageTag(string spec, string? file = null) =>
            new RawItem(spec, new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { [TagOptions.DefiningProjectMetadata] = file ?? "" });

        [TestMethod]
        public void DefaultsPushAndNoRequireHitNoTagsLatestCacheSource()
        {
            var o = OptionsParser.Parse(NewRaw(), new CapturingBuildLog());
            Assert.IsTrue(o.Push);
            Assert.IsFalse(o.RequireHit);
            Assert.AreEqual(0, o.ImageTags.Count);
            Assert.AreEqual(0, o.CacheFromSources.Count);
        }

        [TestMethod]
        public void PushAndRequireHitAreBooleans()
        {
            var raw = NewRaw();
            raw["Push"] = "false";
            raw["RequireHit"] = "yes";
            var o = OptionsParser.Parse(raw, new CapturingBuildLog());
            Assert.IsFalse(o.Push);
            Assert.IsTrue(o.RequireHit);

            raw["Push"] = "never";
            Assert.AreEqual("ECRC1011", Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(raw, new CapturingBuildLog())).Diagnostic.Code);
        }

        [TestMethod]
        public void CacheFromIsAnOrderedListOfTagsAndFullReferences()
        {
            CollectionAssert.AreEqual(
                new[] { "branch-feature-x", "latest", "registry.example.com/team/base:main", "localhost:5000/cache" },
                BuildOptions.ParseCacheFrom(" branch-feature-x ; latest;;latest; registry.example.com/team/base:main;localhost:5000/cache ").ToList());
            CollectionAssert.AreEqual(new[] { "main" }, BuildOptions.ParseCacheFrom("main").ToList(), "a single tag works as before");
            Assert.AreEqual(0, BuildOptions.ParseCacheFrom(" ; ").Count);

            // Without a registry host docker would read these as Docker Hub images: not what a cache tag means.
            foreach (var bad in new[] { "repo:tag", "other/repo:tag", "-bad", "registry.example.com/Bad:tag" })
            {
                Assert.AreEqual("ECRC1022", Assert.ThrowsExactly<EcrCacheException>(() => BuildOptions.ParseCacheFrom("latest;" + bad), bad).Diagnostic.Code, bad);
            }
        }

        [TestMethod]
        public void SanitizeMakesTheTagGrammar()
        {
            Assert.AreEqual("branch-feature-login", TagOptions.Sanitize("branch-feature/login"));
            Assert.AreEqual("main", TagOptions.Sanitize("main"));
            Assert.AreEqual("v1.2_rc-3", TagOptions.Sanitize("v1.2_rc-3"));
            Assert.AreEqual("x-y-", TagOptions.Sanitize("x y@"));
            Assert.AreEqual("release", TagOptions.Sanitize("..-release"));
            Assert.AreEqual("_private", TagOptions.Sanitize("_private"));
            Assert.AreEqual("", TagOptions.Sanitize("/"));
            Assert.AreEqual("", TagOptions.Sanitize("  "));
            var longTag = TagOptions.Sanitize("branch-" + new string('a', 300));
            Assert.AreEqual(128, longTag.Length);
            foreach (var tag in new[] { "branch-feature-login", "x-y-", "release", longTag })
            {
                Assert.IsTrue(Validate.Tag.IsMatch(tag), tag);
            }
        }

        [TestMethod]
        public void ImageTagsAreSanitisedWithAWarningAndDeduplicated()
        {
            var raw = NewRaw();
            raw.ImageTags.Add(ImageTag("branch-feature/login"));
            raw.ImageTags.Add(ImageTag("branch-feature-login"));
            raw.ImageTags.Add(ImageTag("stable"));
            var log = new CapturingBuildLog();
            var o = OptionsParser.Parse(raw, log);
            CollectionAssert.AreEqual(new[] { "branch-feature-login", "stable" }, o.ImageTags.ToList());
            var warning = log.Warnings.Single(w => w.Code == "ECRC1051");
            StringAssert.Contains(warning.Message, "'branch-feature/login'");
            StringAssert.Contains(warning.Message, "'branch-feature-login'");
        }

        [TestMethod]
        public void AnEmptyImageTagIsAnErrorAtItsItem()
        {
            var project = Path.Combine(_dir, "image.proj");
            File.WriteAllText(project, "<Project>\n  <ItemGroup>\n    <ImageTag Include=\"stable\" />\n    <ImageTag Include=\"$([MSBuild]::Unescape($(BUILDKITE_BRANCH)))/\" />\n  </ItemGroup>\n</Project>\n");
            var raw = NewRaw();
            raw.ProjectFile = project;
            raw.ImageTags.Add(ImageTag("stable", project));
            raw.ImageTags.Add(ImageTag("/", project));
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(raw, new CapturingBuildLog()));
            Assert.AreEqual("ECRC1050", ex.Diagnostic.Code);
            Assert.AreEqual(project, ex.Diagnostic.File);
            Assert.AreEqual(4, ex.Diagnostic.Line, "the line of the ImageTag whose Include gives '/'");
        }

        [TestMethod]
        public void PushOffWithSeveralPlatformsIsAnError()
        {
            var raw = NewRaw();
            raw["Push"] = "false";
            raw["Platform"] = "linux/amd64,linux/arm64";
            Assert.AreEqual("ECRC1052", Assert.ThrowsExactly<EcrCacheException>(() => OptionsParser.Parse(raw, new CapturingBuildLog())).Diagnostic.Code);
        }

        [TestMethod]
        public void TagsPushModesAndCacheSourcesNeverEnterTheKey()
        {
            var plain = OptionsParser.Parse(NewRaw(), new CapturingBuildLog());
            var raw = NewRaw();
            raw.ImageTags.Add(ImageTag("branch-main"));
            raw["Push"] = "false";
            raw["RequireHit"] = "true";
            raw["CacheFrom"] = "branch-main;latest";
            var policy = OptionsParser.Parse(raw, new CapturingBuildLog());
            Assert.AreEqual(1, policy.ImageTags.Count);

            var images = new List<ResolvedBaseImage>();
            var a = CacheKeyCalculator.Compute(KeyInputsFactory.Create(plain, "linux/amd64", images));
            var b = CacheKeyCalculator.Compute(KeyInputsFactory.Create(policy, "linux/amd64", images));
            Assert.AreEqual(a.Hash, b.Hash);
            StringAssert.DoesNotMatch(b.Manifest.ToJson(), new System.Text.RegularExpressions.Regex("branch-main"));
        }
    }
}
