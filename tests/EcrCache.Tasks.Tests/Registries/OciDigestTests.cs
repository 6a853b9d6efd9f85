using System.Text;
using EcrCache.Keys.BaseImages;
using EcrCache.Registries.Oci;

namespace EcrCache.Tasks.Tests.Registries
{
    [TestClass]
    public sealed class OciDigestTests
    {
        private const string Hex64 = "1c3227bd1a732f5f3dbbf36201bb83b0ae2fbdd52054330a86b7fda6f7382500";

        [TestMethod]
        [DataRow("sha256:" + Hex64, true)]
        [DataRow("sha512:" + Hex64 + Hex64, true)]
        [DataRow("sha256:1C3227BD1A732F5F3DBBF36201BB83B0AE2FBDD52054330A86B7FDA6F7382500", false)]
        [DataRow("sha256:" + Hex64 + "00", false)]
        [DataRow("sha256:short", false)]
        [DataRow("sha512:" + Hex64, false)]
        [DataRow("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", true)]
        [DataRow("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", true)]
        [DataRow("SHA256:" + Hex64, false)]
        [DataRow("sha-:" + Hex64, false)]
        [DataRow(":" + Hex64, false)]
        [DataRow("sha256:", false)]
        [DataRow("sha256:ab/cd", false)]
        public void OneGrammarForManifestReferencesAndPinnedImages(string digest, bool valid)
        {
            Assert.AreEqual(valid, OciDigest.IsValid(digest), digest);
            Assert.AreEqual(valid, OciNames.IsReference(digest), "a manifest reference: " + digest);
            Assert.AreEqual(valid, ImageReference.TryParse("alpine@" + digest, out _), "FROM alpine@" + digest);
        }

        [TestMethod]
        public void ATrailingNewlineIsNotPartOfADigest() => Assert.IsFalse(OciDigest.IsValid("sha256:" + Hex64 + "\n"));

        [TestMethod]
        public void ComputeIsSha256InLowerCaseHexAndValid()
        {
            var digest = OciDigest.Compute(Encoding.UTF8.GetBytes("abc"));
            Assert.AreEqual("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", digest);
            Assert.IsTrue(OciDigest.IsValid(digest));
            Assert.AreEqual(digest, RegistryClient.ComputeDigest(Encoding.UTF8.GetBytes("abc")));
        }

        [TestMethod]
        [DataRow("v1.2", true)]
        [DataRow("_x", true)]
        [DataRow(".x", false)]
        [DataRow("a/b", false)]
        [DataRow("v1\n", false)]
        public void TagsFollowTheDistributionGrammar(string tag, bool valid) => Assert.AreEqual(valid, OciNames.IsTag(tag), tag);

        [TestMethod]
        [DataRow("team/app", true)]
        [DataRow("a__b/c-d.e", true)]
        [DataRow("Team/App", false)]
        [DataRow("../v2", false)]
        [DataRow("team/app\n", false)]
        public void RepositoriesFollowTheDistributionGrammar(string repository, bool valid) =>
            Assert.AreEqual(valid, OciNames.IsRepository(repository), repository);
    }
}
