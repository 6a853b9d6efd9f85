using Amazon.S3;
using Amazon.S3.Model;
using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Options;
using EcrCache.Stores.Tarballs;
using EcrCache.Stores.Tarballs.S3;
using EcrCache.Tasks.Tests.Core;

namespace EcrCache.Tasks.Tests.Options
{
    /// <summary>Parsing of the tarball providers' properties and the lifecycle rule logic (no AWS, no docker).</summary>
    [TestClass]
    public sealed class TarballOptionsTests
    {
        private static CacheOptions Parse(string provider, Action<RawOptions> configure, Dictionary<string, string>? environment = null)
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-tarball-options");
            File.WriteAllText(Path.Combine(dir, "Dockerfile"), "FROM scratch\n");
            var raw = new RawOptions
            {
                ProjectDirectory = dir,
                ProjectName = "App",
                IntermediateDirectory = Path.Combine(dir, "obj", "ecrcache"),
                ["Provider"] = provider,
                Environment = name => environment != null && environment.TryGetValue(name, out var v) ? v : null,
            };
            configure(raw);
            return OptionsParser.Parse(raw, new CapturingBuildLog());
        }

        private static string Code(Action action) => Assert.ThrowsExactly<EcrCacheException>(action).Diagnostic.Code;

        [TestMethod]
        public void S3_DefaultPrefixIsTheRepository_LikeTheRepositoryDefault()
        {
            var options = Parse("s3", raw => raw["S3Bucket"] = "my-ci-cache", new Dictionary<string, string> { ["BUILDKITE_ORGANIZATION_SLUG"] = "acme", ["BUILDKITE_PIPELINE_SLUG"] = "web" });
            Assert.AreEqual(ProviderKind.S3, options.Provider);
            Assert.AreEqual("my-ci-cache", options.Tarball!.S3Bucket);
            Assert.AreEqual("build-cache/acme/web/", options.Tarball.S3Prefix);
            Assert.AreEqual(7, options.Tarball.MaxAgeDays);

            Assert.AreEqual("build-cache/app/", Parse("s3", raw => raw["S3Bucket"] = "b-1").Tarball!.S3Prefix);
        }

        [TestMethod]
        public void S3_PrefixIsNormalised()
        {
            Assert.AreEqual("ci/app/", TarballOptionsParser.NormalizePrefix("/ci/app", "r"));
            Assert.AreEqual("ci/app/", TarballOptionsParser.NormalizePrefix("ci/app/", "r"));
            Assert.AreEqual("", TarballOptionsParser.NormalizePrefix("/", "r"), "'/' is the bucket's root");
            Assert.AreEqual("ECRC1702", Code(() => TarballOptionsParser.NormalizePrefix("a//b", "r")));
        }

        [TestMethod]
        public void S3_BucketIsRequiredAndValidated()
        {
            Assert.AreEqual("ECRC1700", Code(() => Parse("s3", _ => { })));
            Assert.AreEqual("ECRC1701", Code(() => Parse("s3", raw => raw["S3Bucket"] = "s3://my-bucket/key")));
            Assert.AreEqual("ECRC1701", Code(() => Parse("s3", raw => raw["S3Bucket"] = "My_Bucket")));
            Assert.AreEqual("ECRC1701", Code(() => Parse("s3", raw => raw["S3Bucket"] = "192.168.0.1")));
            Assert.AreEqual("ECRC1512", Code(() => Parse("s3", raw => { raw["S3Bucket"] = "ok-bucket"; raw["Region"] = "Europe"; })));
            Assert.AreEqual("ECRC1510", Code(() => Parse("s3", raw => { raw["S3Bucket"] = "ok-bucket"; raw["MaxAgeDays"] = "-1"; })));
        }

        [TestMethod]
        public void Directory_IsRequired_ResolvedFromTheProject_AndMaxSizeIsMegabytes()
        {
            Assert.AreEqual("ECRC1750", Code(() => Parse("directory", _ => { })));
            Assert.AreEqual("ECRC1751", Code(() => Parse("directory", raw => { raw["CacheDirectory"] = "c"; raw["DirectoryMaxSizeMB"] = "1.5"; })));
            var options = Parse("directory", raw => { raw["CacheDirectory"] = "caches"; raw["DirectoryMaxSizeMB"] = "10"; raw["MaxAgeDays"] = "0"; });
            Assert.AreEqual(ProviderKind.Directory, options.Provider);
            Assert.AreEqual(Path.Combine(options.ProjectDirectory, "caches"), options.Tarball!.Directory);
            Assert.AreEqual(10L * 1024 * 1024, options.Tarball.DirectoryMaxBytes);
            Assert.AreEqual(0, options.Tarball.MaxAgeDays);
        }

        [TestMethod]
        public void UnknownProviderMessage_ListsTheTarballProviders()
        {
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => Parse("gcs", _ => { }));
            StringAssert.Contains(ex.Diagnostic.Message, "s3");
            StringAssert.Contains(ex.Diagnostic.Message, "directory");
        }

        [TestMethod]
        public void LifecycleRule_MatchesOnlyTheExactRule_AndMergeKeepsOthers()
        {
            var other = new LifecycleRule { Id = "logs", Status = LifecycleRuleStatus.Enabled, Filter = new LifecycleFilter { Prefix = "logs/" }, Expiration = new LifecycleRuleExpiration { Days = 30 } };
            var ours = S3LifecycleRules.Desired("ci/", 7);
            Assert.IsTrue(S3LifecycleRules.Matches(new List<LifecycleRule> { other, ours }, "ci/", 7));
            Assert.IsFalse(S3LifecycleRules.Matches(new List<LifecycleRule> { other, ours }, "ci/", 8), "other days");
            Assert.IsFalse(S3LifecycleRules.Matches(new List<LifecycleRule> { other }, "ci/", 7), "missing");
            Assert.IsFalse(S3LifecycleRules.Matches(null, "ci/", 7));
            var disabled = S3LifecycleRules.Desired("ci/", 7);
            disabled.Status = LifecycleRuleStatus.Disabled;
            Assert.IsFalse(S3LifecycleRules.Matches(new List<LifecycleRule> { disabled }, "ci/", 7), "disabled");

            var merged = S3LifecycleRules.Merge(new List<LifecycleRule> { other, S3LifecycleRules.Desired("ci/", 3) }, "ci/", 7);
            Assert.AreEqual(2, merged.Count);
            Assert.AreSame(other, merged[0]);
            Assert.AreEqual(7, merged[1].Expiration.Days);
            Assert.AreEqual("ecrcache:ci/", merged[1].Id);
        }
    }
}
