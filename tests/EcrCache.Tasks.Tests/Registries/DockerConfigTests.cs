using System.Text;
using EcrCache.Diagnostics;
using EcrCache.Registries.Auth;

namespace EcrCache.Tasks.Tests.Registries
{
    [TestClass]
    public sealed class DockerConfigTests
    {
        private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

        private static Func<string, string?> Env(params (string Name, string? Value)[] values)
        {
            var map = values.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);
            return name => map.TryGetValue(name, out var value) ? value : null;
        }

        private static DockerConfig WriteAndLoad(string json)
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-dockercfg");
            File.WriteAllText(Path.Combine(dir, "config.json"), json);
            return DockerConfig.Load(Env(("DOCKER_CONFIG", dir)), "/nonexistent-home");
        }

        [TestMethod]
        public void DockerConfigVariableWinsOverHome()
        {
            var home = TestPaths.NewTempDirectory("ecrcache-home");
            Directory.CreateDirectory(Path.Combine(home, ".docker"));
            File.WriteAllText(Path.Combine(home, ".docker", "config.json"), "{\"credsStore\":\"home\"}");
            var custom = TestPaths.NewTempDirectory("ecrcache-dockercfg");
            File.WriteAllText(Path.Combine(custom, "config.json"), "{\"credsStore\":\"custom\"}");

            var fromHome = DockerConfig.Load(Env(), home);
            Assert.AreEqual(Path.Combine(home, ".docker", "config.json"), fromHome.Path);
            Assert.AreEqual("home", fromHome.CredentialsStore);

            var fromVariable = DockerConfig.Load(Env(("DOCKER_CONFIG", custom)), home);
            Assert.AreEqual(Path.Combine(custom, "config.json"), fromVariable.Path);
            Assert.AreEqual("custom", fromVariable.CredentialsStore);

            var fromHomeVariable = DockerConfig.Load(Env(("HOME", home)));
            Assert.AreEqual("home", fromHomeVariable.CredentialsStore);
        }

        [TestMethod]
        public void MissingFileIsAnEmptyConfig()
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-dockercfg");
            var config = DockerConfig.Load(Env(("DOCKER_CONFIG", dir)), null);
            Assert.IsFalse(config.FileExists);
            Assert.AreEqual(Path.Combine(dir, "config.json"), config.Path);
            Assert.IsNull(config.GetAuth("registry.example.com"));
            Assert.IsNull(config.GetCredentialHelper("registry.example.com"));
            Assert.IsNull(config.CredentialsStore);
        }

        [TestMethod]
        public void EmptyFileIsAnEmptyConfig()
        {
            var config = WriteAndLoad("  \n");
            Assert.IsTrue(config.FileExists);
            Assert.IsNull(config.GetAuth("registry.example.com"));
        }

        [TestMethod]
        public void InvalidJsonIsECRC1305WithThePath()
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-dockercfg");
            var path = Path.Combine(dir, "config.json");
            File.WriteAllText(path, "{\"auths\": {");
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => DockerConfig.Load(Env(("DOCKER_CONFIG", dir)), null));
            Assert.AreEqual("ECRC1305", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, path);

            var notObject = Assert.ThrowsExactly<EcrCacheException>(() => DockerConfig.Parse("[1,2]", "x.json"));
            Assert.AreEqual("ECRC1305", notObject.Diagnostic.Code);
            var badAuths = Assert.ThrowsExactly<EcrCacheException>(() => DockerConfig.Parse("{\"auths\": \"nope\"}", "x.json"));
            Assert.AreEqual("ECRC1305", badAuths.Diagnostic.Code);
        }

        [TestMethod]
        public void AuthFieldIsBase64UserColonPassword()
        {
            var config = WriteAndLoad("{\"auths\":{\"registry.example.com\":{\"auth\":\"" + Base64("alice:pa:ss") + "\"}}}");
            var credential = config.GetAuth("registry.example.com");
            Assert.IsNotNull(credential);
            Assert.AreEqual("alice", credential.Username);
            Assert.AreEqual("pa:ss", credential.Password, "only the first ':' separates user and password");
        }

        [TestMethod]
        public void UsernamePasswordAndTokensAreRead()
        {
            var config = WriteAndLoad(@"{
              ""auths"": {
                ""a.example.com"": { ""username"": ""bob"", ""password"": ""pw"" },
                ""b.example.com"": { ""identitytoken"": ""refresh-123"" },
                ""c.example.com"": { ""registrytoken"": ""bearer-456"" },
                ""d.example.com"": { ""auth"": """ + Base64("carol:fromauth") + @""", ""username"": ""ignored"", ""password"": ""ignored"" }
              }
            }");
            var a = config.GetAuth("a.example.com")!;
            Assert.AreEqual("bob", a.Username);
            Assert.AreEqual("pw", a.Password);
            Assert.IsTrue(a.HasUsernamePassword);

            var b = config.GetAuth("b.example.com")!;
            Assert.AreEqual("refresh-123", b.IdentityToken);
            Assert.IsNull(b.Username);

            Assert.AreEqual("bearer-456", config.GetAuth("c.example.com")!.RegistryToken);

            var d = config.GetAuth("d.example.com")!;
            Assert.AreEqual("carol", d.Username);
            Assert.AreEqual("fromauth", d.Password);
        }

        [TestMethod]
        public void MalformedAuthFieldIsECRC1305OnlyWhenThatHostIsAsked()
        {
            var config = WriteAndLoad("{\"auths\":{\"bad.example.com\":{\"auth\":\"%%%not-base64\"},\"good.example.com\":{\"auth\":\"" + Base64("u:p") + "\"}}}");
            Assert.AreEqual("u", config.GetAuth("good.example.com")!.Username);
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => config.GetAuth("bad.example.com"));
            Assert.AreEqual("ECRC1305", ex.Diagnostic.Code);
            Assert.IsFalse(ex.Message.Contains("%%%not-base64"), "the raw value must not be echoed");

            var noColon = WriteAndLoad("{\"auths\":{\"x.example.com\":{\"auth\":\"" + Base64("nocolon") + "\"}}}");
            Assert.AreEqual("ECRC1305", Assert.ThrowsExactly<EcrCacheException>(() => noColon.GetAuth("x.example.com")).Diagnostic.Code);
        }

        [TestMethod]
        [DataRow("registry.example.com")]
        [DataRow("https://registry.example.com")]
        [DataRow("https://registry.example.com/v1/")]
        [DataRow("http://registry.example.com/")]
        [DataRow("REGISTRY.Example.com")]
        public void KeysMatchLikeTheDockerCli(string key)
        {
            var config = WriteAndLoad("{\"auths\":{\"" + key + "\":{\"auth\":\"" + Base64("u:p") + "\"}}}");
            Assert.IsNotNull(config.GetAuth("registry.example.com"), key);
            Assert.IsNull(config.GetAuth("other.example.com"));
            Assert.IsNull(config.GetAuth("registry.example.com:5000"), "a port makes a different registry");
        }

        [TestMethod]
        public void PortsMustMatch()
        {
            var config = WriteAndLoad("{\"auths\":{\"localhost:5000\":{\"auth\":\"" + Base64("u:p") + "\"},\"https://localhost:6000/v1/\":{\"auth\":\"" + Base64("v:q") + "\"}}}");
            Assert.AreEqual("u", config.GetAuth("localhost:5000")!.Username);
            Assert.AreEqual("v", config.GetAuth("localhost:6000")!.Username);
            Assert.IsNull(config.GetAuth("localhost"));
            Assert.IsNull(config.GetAuth("localhost:7000"));
        }

        [TestMethod]
        public void ExactKeyWinsOverNormalizedKey()
        {
            var config = WriteAndLoad("{\"auths\":{\"https://registry.example.com/v1/\":{\"auth\":\"" + Base64("legacy:p") + "\"},\"registry.example.com\":{\"auth\":\"" + Base64("exact:p") + "\"}}}");
            Assert.AreEqual("exact", config.GetAuth("registry.example.com")!.Username);
        }

        [TestMethod]
        [DataRow("https://index.docker.io/v1/")]
        [DataRow("index.docker.io")]
        [DataRow("docker.io")]
        [DataRow("registry-1.docker.io")]
        public void DockerHubAliases(string key)
        {
            var config = WriteAndLoad("{\"auths\":{\"" + key + "\":{\"auth\":\"" + Base64("hub:p") + "\"}},\"credHelpers\":{\"" + key + "\":\"hubhelper\"}}");
            foreach (var host in new[] { "docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/" })
            {
                Assert.AreEqual("hub", config.GetAuth(host)?.Username, key + " vs " + host);
                Assert.AreEqual("hubhelper", config.GetCredentialHelper(host), key + " vs " + host);
            }
        }

        [TestMethod]
        public void EmptyPlaceholderEntriesAreNotCredentials()
        {
            // With a credsStore, docker login writes "host": {} into auths.
            var config = WriteAndLoad("{\"auths\":{\"registry.example.com\":{}},\"credsStore\":\"desktop\"}");
            Assert.IsNull(config.GetAuth("registry.example.com"));
            Assert.AreEqual("desktop", config.GetCredentialHelper("registry.example.com"));
            Assert.AreEqual(0, config.AuthHosts.Count);
        }

        [TestMethod]
        public void CredHelpersWinOverCredsStore()
        {
            var config = WriteAndLoad(@"{
              ""credsStore"": ""desktop"",
              ""credHelpers"": {
                ""123456789012.dkr.ecr.us-east-1.amazonaws.com"": ""ecr-login"",
                ""https://gcr.io"": ""gcloud"",
                ""empty.example.com"": """"
              }
            }");
            Assert.AreEqual("ecr-login", config.GetCredentialHelper("123456789012.dkr.ecr.us-east-1.amazonaws.com"));
            Assert.AreEqual("ecr-login", config.GetHostCredentialHelper("123456789012.DKR.ecr.us-east-1.amazonaws.com"));
            Assert.AreEqual("gcloud", config.GetCredentialHelper("gcr.io"));
            Assert.AreEqual("desktop", config.GetCredentialHelper("quay.io"));
            Assert.IsNull(config.GetHostCredentialHelper("quay.io"));
            Assert.AreEqual("desktop", config.GetCredentialHelper("empty.example.com"), "an empty helper name means none");
            Assert.AreEqual(3, config.CredentialHelpers.Count);
        }

        [TestMethod]
        public void CommentsAndTrailingCommasAndUnknownKeysAreTolerated()
        {
            var config = WriteAndLoad("{ // a comment\n \"psFormat\": \"table\", \"proxies\": {\"default\": {}}, \"auths\": {\"r.example.com\": {\"auth\": \"" + Base64("u:p") + "\", \"email\": \"x@y\"},},}");
            Assert.AreEqual("u", config.GetAuth("r.example.com")!.Username);
            CollectionAssert.AreEqual(new[] { "r.example.com" }, config.AuthHosts.ToArray());
        }

        [TestMethod]
        [DataRow("registry.example.com", "registry.example.com")]
        [DataRow("https://Registry.Example.com/v1/", "registry.example.com")]
        [DataRow("http://localhost:5000/v2/", "localhost:5000")]
        [DataRow("index.docker.io", "docker.io")]
        [DataRow("https://index.docker.io/v1/", "docker.io")]
        public void NormalizeHost(string key, string expected) => Assert.AreEqual(expected, DockerConfig.NormalizeHost(key));

        [TestMethod]
        public void CredentialToStringIsRedacted()
        {
            var credential = new RegistryCredential("alice", "hunter2", "refresh-xyz", "bearer-abc");
            var text = credential.ToString();
            foreach (var secret in new[] { "alice", "hunter2", "refresh-xyz", "bearer-abc" })
            {
                Assert.IsFalse(text.Contains(secret), text);
            }

            StringAssert.Contains(text, "redacted");
            Assert.AreEqual("RegistryCredential(empty)", new RegistryCredential(null, "").ToString());
        }
    }
}
