using System.Text;
using EcrCache.Diagnostics;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;

namespace EcrCache.Tasks.Tests.Registries
{
    /// <summary>
    /// Which token realms get a registry's credentials. The exchanges run against <see cref="FakeHandler"/> in
    /// memory: the private addresses named here are never connected to.
    /// </summary>
    [TestClass]
    public sealed class TokenRealmPolicyTests
    {
        private const string Body = "{\"schemaVersion\":2}";
        private static readonly string BodyDigest = RegistryClient.ComputeDigest(Encoding.UTF8.GetBytes(Body));
        private static readonly string Basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("u:pass-secret"));

        [TestMethod]
        [DataRow("registry.example.com", false, "https://auth.example.com/token", true)]
        [DataRow("registry.example.com", false, "https://10.0.0.1/token", false)]
        [DataRow("registry.example.com", false, "https://127.0.0.1:5001/token", false)]
        [DataRow("registry.example.com", false, "https://localhost/token", false)]
        [DataRow("registry.example.com", false, "https://auth.localhost/token", false)]
        [DataRow("registry.example.com", false, "https://[::1]/token", false)]
        [DataRow("registry.example.com", false, "https://172.16.5.4/token", false)]
        [DataRow("registry.example.com", false, "https://172.31.255.255/token", false)]
        [DataRow("registry.example.com", false, "https://172.32.0.1/token", true)]
        [DataRow("registry.example.com", false, "https://192.168.1.1/token", false)]
        [DataRow("registry.example.com", false, "https://169.254.169.254/token", false)]
        [DataRow("registry.example.com", false, "https://0.0.0.0/token", false)]
        [DataRow("registry.example.com", false, "https://[fd00::1]/token", false)]
        [DataRow("registry.example.com", false, "https://[fe80::1]/token", false)]
        [DataRow("registry.example.com", false, "https://[::ffff:10.0.0.1]/token", false)]
        [DataRow("registry.example.com", false, "https://[2001:db8::1]/token", true)]
        [DataRow("registry.example.com", false, "http://auth.example.com/token", false)]
        [DataRow("127.0.0.1:5000", false, "http://127.0.0.1:5000/token", true)]
        [DataRow("localhost:5000", false, "http://127.0.0.1:5001/token", true)]
        [DataRow("[::1]:5000", false, "http://[::1]:5001/token", true)]
        [DataRow("127.0.0.1:5000", false, "https://10.0.0.6/token", true)]
        [DataRow("127.0.0.1:5000", false, "http://10.0.0.6/token", false)]
        [DataRow("10.0.0.5:5000", false, "https://10.0.0.6/token", true)]
        [DataRow("10.0.0.5:5000", false, "http://10.0.0.5:5000/token", false)]
        [DataRow("10.0.0.5:5000", true, "http://10.0.0.5:5000/token", true)]
        [DataRow("10.0.0.5:5000", true, "http://10.0.0.6/token", false)]
        [DataRow("registry.internal:5000", true, "http://registry.internal:5000/token", true)]
        [DataRow("registry.internal:5000", true, "http://10.0.0.5/token", false)]
        public void CredentialsGoToARealmOnlyOnTheRegistrysSideAndNeverOverPlainHttpOffLoopback(string registry, bool insecure, string realm, bool allowed)
        {
            var why = TokenRealmPolicy.WhyNot(RegistryEndpoint.Parse(registry, insecure), new Uri(realm));
            Assert.AreEqual(allowed, why == null, realm + " for " + registry + ": " + why);
        }

        [TestMethod]
        public async Task APublicRegistrysPrivateRealmGetsNoCredentialsButAnonymousAccessStillWorks()
        {
            var handler = Registry("https://10.0.0.1/token", acceptAnonymousToken: true);
            var log = new RecordingLog();
            using var client = Client(handler, "registry.example.com", RegistryCredential.Basic("u", "pass-secret"), log);

            Assert.AreEqual(BodyDigest, (await client.HeadManifestAsync("team/app", "1", CancellationToken.None))?.Digest);

            var tokenRequest = handler.Sent.Single(s => s.Uri.Host == "10.0.0.1");
            Assert.IsNull(tokenRequest.Authorization);
            Assert.IsFalse(tokenRequest.Uri.Query.Contains("account="), tokenRequest.Uri.Query);
            StringAssert.Contains(log.All, "Not sending credentials to the token server https://10.0.0.1/token: it is on a loopback, private or link-local address");
            log.AssertNoSecret("pass-secret", Basic);
        }

        [TestMethod]
        public async Task WhenAnonymousAccessIsNotEnoughTheRefusedRealmIsECRC1307()
        {
            var handler = Registry("https://192.168.1.1/token", acceptAnonymousToken: false);
            using var client = Client(handler, "registry.example.com", RegistryCredential.Basic("u", "pass-secret"));

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync("team/app", "1", CancellationToken.None));

            Assert.AreEqual("ECRC1307", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "'registry.example.com' names the token server 'https://192.168.1.1/token'");
            StringAssert.Contains(ex.Message, "private");
            StringAssert.Contains(ex.Message, "'team/app'");
            StringAssert.Contains(ex.Message, "HTTP 401");
            StringAssert.Contains(ex.Message, "auth.token.realm");
            Assert.IsTrue(handler.Sent.All(s => s.Authorization != Basic), "the credentials were never sent");
        }

        [TestMethod]
        public async Task ATokenServerThatRefusesTheAnonymousRequestIsECRC1307Too()
        {
            var handler = new FakeHandler(request => request.RequestUri!.Host == "auth.example.com"
                ? FakeHandler.Status(401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"login first\"}]}")
                : FakeHandler.Challenge("Bearer realm=\"http://auth.example.com/token\",service=\"s\""));
            using var client = Client(handler, "registry.example.com", new RegistryCredential(null, null, identityToken: "refresh-secret"));

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.GetManifestAsync("team/app", "1", CancellationToken.None));

            Assert.AreEqual("ECRC1307", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "plain http to a host that is not on loopback");
            var tokenRequest = handler.Sent.Single(s => s.Uri.Host == "auth.example.com");
            Assert.AreEqual("GET", tokenRequest.Method, "no refresh-token grant is posted to a refused realm");
            Assert.IsNull(tokenRequest.Authorization);
        }

        [TestMethod]
        public async Task APrivateRegistrysPrivateRealmGetsTheCredentials()
        {
            var handler = Registry("https://10.0.0.6/token", acceptAnonymousToken: false);
            using var client = Client(handler, "10.0.0.5:5000", RegistryCredential.Basic("u", "pass-secret"));

            Assert.AreEqual(BodyDigest, (await client.HeadManifestAsync("team/app", "1", CancellationToken.None))?.Digest);

            var tokenRequest = handler.Sent.Single(s => s.Uri.Host == "10.0.0.6");
            Assert.AreEqual(Basic, tokenRequest.Authorization);
            StringAssert.Contains(tokenRequest.Uri.Query, "account=u");
        }

        [TestMethod]
        public async Task WithoutCredentialsNothingIsHeldBackAndARefusalStaysECRC1302()
        {
            var handler = Registry("https://10.0.0.1/token", acceptAnonymousToken: false);
            using var client = Client(handler, "registry.example.com", null);

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync("team/app", "1", CancellationToken.None));

            Assert.AreEqual("ECRC1302", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "no credentials");
        }

        private static RegistryClient Client(FakeHandler handler, string host, RegistryCredential? credential, RecordingLog? log = null) =>
            new RegistryClient(RegistryEndpoint.Parse(host), new StaticCredentialProvider(credential, "the test's credentials"), log ?? new RecordingLog(), handler);

        /// <summary>
        /// A registry whose challenge names <paramref name="realm"/>; the realm gives "anon" without credentials and
        /// "authed" with u:pass-secret, and the registry takes "authed" always and "anon" only if <paramref name="acceptAnonymousToken"/>.
        /// </summary>
        private static FakeHandler Registry(string realm, bool acceptAnonymousToken)
        {
            var realmHost = new Uri(realm).Host;
            return new FakeHandler(request =>
            {
                if (request.RequestUri!.Host == realmHost)
                {
                    var token = request.Headers.Authorization?.ToString() == Basic ? "authed" : "anon";
                    return FakeHandler.Status(200, "{\"token\":\"" + token + "\"}", "application/json");
                }

                var authorization = request.Headers.Authorization?.ToString();
                return authorization == "Bearer authed" || (acceptAnonymousToken && authorization == "Bearer anon")
                    ? FakeHandler.Manifest(Body, BodyDigest)
                    : FakeHandler.Challenge("Bearer realm=\"" + realm + "\",service=\"s\"");
            });
        }
    }
}
