using EcrCache.Diagnostics;
using EcrCache.Keys.BaseImages;
using EcrCache.Options;

namespace EcrCache.Tasks.Tests.Options
{
    [TestClass]
    public sealed class KeyFeatureOptionsTests
    {
        private static CacheOptions Apply(Action<RawOptions> configure)
        {
            var raw = new RawOptions();
            configure(raw);
            var options = new CacheOptions { Provider = ProviderKind.Registry };
            KeyFeatureOptions.Apply(raw, options);
            BuildOptions.Apply(raw, options); // the layer-cache options are the build step's
            return options;
        }

        [TestMethod]
        public void Defaults()
        {
            var o = Apply(_ => { });
            Assert.IsNull(o.Platform);
            Assert.AreEqual(BaseImageDigestMode.On, o.BaseImageDigests);
            Assert.AreEqual(10, o.BaseImageDigestsCacheMinutes);
            Assert.IsTrue(o.LayerCache);
            Assert.AreEqual(0, o.CacheFromSources.Count, "none: the store's latest");
        }

        [TestMethod]
        public void PlatformsAreNormalisedAndSorted()
        {
            var o = Apply(r => r["Platform"] = " Linux/ARM64/v8 , linux/amd64 ,linux/amd64");
            Assert.AreEqual("linux/amd64,linux/arm64", o.Platform);
            Assert.IsTrue(o.IsMultiPlatform);
            Assert.AreEqual("linux/arm64", Apply(r => r["Platform"] = "linux/arm64").Platform);
            Assert.AreEqual("ECRC1020", Assert.ThrowsExactly<EcrCacheException>(() => Apply(r => r["Platform"] = "arm64")).Diagnostic.Code);
        }

        [TestMethod]
        public void DigestModesMinutesAndCacheFrom()
        {
            Assert.AreEqual(BaseImageDigestMode.BestEffort, Apply(r => r["BaseImageDigests"] = "BestEffort").BaseImageDigests);
            Assert.AreEqual(BaseImageDigestMode.Off, Apply(r => r["BaseImageDigests"] = "false").BaseImageDigests);
            Assert.AreEqual("ECRC1021", Assert.ThrowsExactly<EcrCacheException>(() => Apply(r => r["BaseImageDigests"] = "sometimes")).Diagnostic.Code);
            Assert.AreEqual(0, Apply(r => r["BaseImageDigestsCacheMinutes"] = "0").BaseImageDigestsCacheMinutes);
            Assert.AreEqual("ECRC1023", Assert.ThrowsExactly<EcrCacheException>(() => Apply(r => r["BaseImageDigestsCacheMinutes"] = "-1")).Diagnostic.Code);
            CollectionAssert.AreEqual(new[] { "main" }, Apply(r => r["CacheFrom"] = "main").CacheFromSources.ToList());
            Assert.AreEqual("ECRC1022", Assert.ThrowsExactly<EcrCacheException>(() => Apply(r => r["CacheFrom"] = "other/repo:tag")).Diagnostic.Code);
            Assert.IsFalse(Apply(r => r["LayerCache"] = "false").LayerCache);
        }
    }
}
