using EcrCache.Core;
using EcrCache.Options;

namespace EcrCache.Tasks.Tests.Core
{
    /// <summary>The store identity that lets a local hit skip creating the store: stable, and sensitive to what names the image.</summary>
    [TestClass]
    public sealed class EnsuredStampTests
    {
        private string _dir = "";

        [TestInitialize]
        public void SetUp() => _dir = TestPaths.NewTempDirectory("ecrcache-ensured");

        private CacheOptions Parse(string provider, Action<RawOptions>? configure = null, Dictionary<string, string>? env = null)
        {
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "p",
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache"),
                ["DockerfileInline"] = "FROM busybox\n",
                ["Provider"] = provider,
                ["Registry"] = provider == "local" ? null : "127.0.0.1:5000",
                ["Repository"] = "build-cache/p",
                Environment = name => env != null && env.TryGetValue(name, out var v) ? v : null,
            };
            configure?.Invoke(raw);
            return OptionsParser.Parse(raw, new CapturingBuildLog());
        }

        [TestMethod]
        public void LocalRegistryAndEcr_HaveAStableIdentity()
        {
            foreach (var provider in new[] { "local", "registry", "ecr" })
            {
                var a = EnsuredStamp.StoreIdentity(Parse(provider));
                Assert.IsNotNull(a, provider);
                Assert.AreEqual(a, EnsuredStamp.StoreIdentity(Parse(provider)), provider + " is stable");
            }
        }

        [TestMethod]
        public void WhatCanRenameTheImage_ChangesTheIdentity()
        {
            var baseline = EnsuredStamp.StoreIdentity(Parse("ecr"));
            var variants = new Dictionary<string, string?>
            {
                ["repository"] = EnsuredStamp.StoreIdentity(Parse("ecr", r => r["Repository"] = "build-cache/q")),
                ["region"] = EnsuredStamp.StoreIdentity(Parse("ecr", r => r["Region"] = "eu-central-1")),
                ["registry override"] = EnsuredStamp.StoreIdentity(Parse("ecr", r => r["Registry"] = "127.0.0.1:5001")),
                ["AWS_PROFILE"] = EnsuredStamp.StoreIdentity(Parse("ecr", env: new Dictionary<string, string> { ["AWS_PROFILE"] = "other" })),
                ["AWS_ACCESS_KEY_ID"] = EnsuredStamp.StoreIdentity(Parse("ecr", env: new Dictionary<string, string> { ["AWS_ACCESS_KEY_ID"] = "AKIAOTHER" })),
                ["AWS_ENDPOINT_URL_ECR"] = EnsuredStamp.StoreIdentity(Parse("ecr", env: new Dictionary<string, string> { ["AWS_ENDPOINT_URL_ECR"] = "http://127.0.0.1:1" })),
                ["provider"] = EnsuredStamp.StoreIdentity(Parse("registry")),
            };
            foreach (var variant in variants)
            {
                Assert.IsNotNull(variant.Value, variant.Key);
                Assert.AreNotEqual(baseline, variant.Value, variant.Key + " must change the store identity");
            }
        }
    }
}
