using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;

namespace EcrCache.Tasks.Tests.Registries
{
    [TestClass]
    public sealed class AuthenticationChallengeTests
    {
        [TestMethod]
        public void DockerHubBearerChallenge()
        {
            var challenges = AuthenticationChallenge.Parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\"");
            Assert.AreEqual(1, challenges.Count);
            var c = challenges[0];
            Assert.IsTrue(c.IsBearer);
            Assert.AreEqual("https://auth.docker.io/token", c.Realm);
            Assert.AreEqual("registry.docker.io", c.Service);
            Assert.AreEqual("repository:library/busybox:pull", c.Scope);
        }

        [TestMethod]
        public void QuotedValuesMayHoldCommasEqualsAndEscapes()
        {
            var c = AuthenticationChallenge.Parse("Bearer realm=\"https://auth.example.com/token?a=1,b=2\", scope=\"repository:a/b:pull,push repository:c:pull\" , error=\"insufficient_scope\", note=\"say \\\"hi\\\"\"").Single();
            Assert.AreEqual("https://auth.example.com/token?a=1,b=2", c.Realm);
            Assert.AreEqual("repository:a/b:pull,push repository:c:pull", c.Scope);
            Assert.AreEqual("insufficient_scope", c.Error);
            Assert.AreEqual("say \"hi\"", c.GetParameter("note"));
        }

        [TestMethod]
        public void SchemeAndParameterNamesAreCaseInsensitiveAndTokensNeedNoQuotes()
        {
            var c = AuthenticationChallenge.Parse("bearer Realm=https://auth.example.com/token,SERVICE=reg").Single();
            Assert.IsTrue(c.IsBearer);
            Assert.AreEqual("https://auth.example.com/token", c.Realm);
            Assert.AreEqual("reg", c.Service);
        }

        [TestMethod]
        public void DistributionBasicChallenge()
        {
            var c = AuthenticationChallenge.Parse("Basic realm=\"basic-realm\"").Single();
            Assert.IsTrue(c.IsBasic);
            Assert.AreEqual("basic-realm", c.Realm);
        }

        [TestMethod]
        public void SeveralChallengesInOneHeaderAndAcrossHeaders()
        {
            var challenges = AuthenticationChallenge.Parse("Basic realm=\"a, b\", Bearer realm=\"https://t/\",service=\"s\", Negotiate abc==, NTLM");
            CollectionAssert.AreEqual(new[] { "Basic", "Bearer", "Negotiate", "NTLM" }, challenges.Select(c => c.Scheme).ToArray());
            Assert.AreEqual("a, b", challenges[0].Realm);
            Assert.AreEqual("https://t/", challenges[1].Realm);
            Assert.AreEqual("s", challenges[1].Service);
            Assert.AreEqual("abc==", challenges[2].Token68);

            var fromHeaders = AuthenticationChallenge.Parse(new[] { "Basic realm=\"x\"", "Bearer realm=\"y\"" });
            Assert.AreEqual(2, fromHeaders.Count);
        }

        [TestMethod]
        [DataRow(null)]
        [DataRow("")]
        [DataRow("   ,  ")]
        [DataRow("=\"x\"")]
        [DataRow("Bearer realm=\"unterminated")]
        [DataRow("Bearer ,,, =, realm=")]
        public void MalformedInputNeverThrows(string? header)
        {
            var challenges = AuthenticationChallenge.Parse(header);
            Assert.IsNotNull(challenges);
        }

        [TestMethod]
        public void UnterminatedQuoteTakesTheRest()
        {
            Assert.AreEqual("https://x/token", AuthenticationChallenge.Parse("Bearer realm=\"https://x/token").Single().Realm);
        }

        [TestMethod]
        public void ScopesAreMergedPerResource()
        {
            CollectionAssert.AreEqual(
                new[] { "repository:a/b:pull" },
                TokenScopes.Merge("repository:a/b:pull", "a/b", RegistryAccess.Pull).ToArray());
            CollectionAssert.AreEqual(
                new[] { "repository:a/b:pull,push" },
                TokenScopes.Merge("repository:a/b:pull", "a/b", RegistryAccess.Pull | RegistryAccess.Push).ToArray());
            CollectionAssert.AreEqual(
                new[] { "registry:catalog:*", "repository:a/b:pull" },
                TokenScopes.Merge("registry:catalog:*", "a/b", RegistryAccess.Pull).ToArray());
            CollectionAssert.AreEqual(
                new[] { "repository:x:pull", "repository:a/b:pull" },
                TokenScopes.Merge("repository:x:pull", "a/b", RegistryAccess.Pull).ToArray());
            CollectionAssert.AreEqual(new string[0], TokenScopes.Merge(null, null, RegistryAccess.Pull).ToArray());
            CollectionAssert.AreEqual(
                new[] { "repository(plugin):p/q:pull" },
                TokenScopes.Merge("repository(plugin):p/q:pull", null, RegistryAccess.Pull).ToArray());
        }
    }
}
