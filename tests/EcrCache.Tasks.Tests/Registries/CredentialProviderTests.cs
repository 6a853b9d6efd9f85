using System.Text;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Processes;
using EcrCache.Registries.Auth;

namespace EcrCache.Tasks.Tests.Registries
{
    [TestClass]
    public sealed class CredentialProviderTests
    {
        // A fake credential helper speaking the docker-credential-helpers protocol: "get" reads the server address on
        // stdin and prints {ServerURL, Username, Secret}; unknown servers get "credentials not found" and exit 1.
        private const string FakeHelper = @"#!/bin/sh
server=$(cat)
printf '%s\n' ""$1 $server"" >> ""$(dirname ""$0"")/calls.log""
if [ ""$1"" != get ]; then echo ""unsupported action $1"" >&2; exit 2; fi
case ""$server"" in
  registry.example.com) printf '{""ServerURL"":""registry.example.com"",""Username"":""alice"",""Secret"":""s3cret-from-helper""}\n' ;;
  token.example.com) printf '{""ServerURL"":""token.example.com"",""Username"":""<token>"",""Secret"":""refresh-from-helper""}\n' ;;
  https://index.docker.io/v1/) printf '{""ServerURL"":""https://index.docker.io/v1/"",""Username"":""hubuser"",""Secret"":""hubpass""}\n' ;;
  localhost:5000) printf '{""ServerURL"":""localhost:5000"",""Username"":""local"",""Secret"":""localpass""}\n' ;;
  broken.example.com) echo 'error: keychain is locked' >&2; exit 3 ;;
  garbage.example.com) echo 'this is not json s3cret-garbage' ;;
  empty.example.com) printf '{""ServerURL"":""empty.example.com"",""Username"":"""",""Secret"":""""}\n' ;;
  slow.example.com) sleep 30 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
";

        private static (string BinDir, Func<string, string?> Env) InstallFakeHelper(string name = "fake")
        {
            if (OperatingSystem.IsWindows())
            {
                Assert.Inconclusive("The fake credential helper is a POSIX shell script.");
            }

            var bin = TestPaths.NewTempDirectory("ecrcache-credhelper");
            var path = Path.Combine(bin, "docker-credential-" + name);
            File.WriteAllText(path, FakeHelper.Replace("\r\n", "\n"));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var systemPath = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
            var fullPath = bin + Path.PathSeparator + systemPath;
            return (bin, variable => variable == "PATH" ? fullPath : Environment.GetEnvironmentVariable(variable));
        }

        private static DockerConfigCredentialProvider Provider(string configJson, Func<string, string?> env, RecordingLog? log = null)
        {
            var config = DockerConfig.Parse(configJson, "/test/config.json");
            return new DockerConfigCredentialProvider(config, ProcessRunner.Instance, env, log);
        }

        private static string[] Calls(string bin)
        {
            var file = Path.Combine(bin, "calls.log");
            return File.Exists(file) ? File.ReadAllLines(file) : Array.Empty<string>();
        }

        [TestMethod]
        public async Task HelperFromCredHelpersReturnsUsernameAndSecret()
        {
            var (bin, env) = InstallFakeHelper();
            var log = new RecordingLog();
            var provider = Provider("{\"credHelpers\":{\"registry.example.com\":\"fake\"}}", env, log);

            var credential = await provider.GetAsync("registry.example.com", CancellationToken.None);

            Assert.IsNotNull(credential);
            Assert.AreEqual("alice", credential.Username);
            Assert.AreEqual("s3cret-from-helper", credential.Password);
            Assert.IsNull(credential.IdentityToken);
            CollectionAssert.AreEqual(new[] { "get registry.example.com" }, Calls(bin), "the server address goes on stdin");
            log.AssertNoSecret("s3cret-from-helper");
            StringAssert.Contains(log.All, "docker-credential-fake");
        }

        [TestMethod]
        public async Task TokenUsernameMeansIdentityToken()
        {
            var (_, env) = InstallFakeHelper();
            var provider = Provider("{\"credsStore\":\"fake\"}", env);
            var credential = await provider.GetAsync("token.example.com", CancellationToken.None);
            Assert.IsNotNull(credential);
            Assert.IsNull(credential.Username);
            Assert.IsNull(credential.Password);
            Assert.AreEqual("refresh-from-helper", credential.IdentityToken);
        }

        [TestMethod]
        public async Task DockerHubIsAskedForWithItsLegacyAddress()
        {
            var (bin, env) = InstallFakeHelper();
            var provider = Provider("{\"credsStore\":\"fake\"}", env);
            var credential = await provider.GetAsync("docker.io", CancellationToken.None);
            Assert.AreEqual("hubuser", credential?.Username);
            CollectionAssert.AreEqual(new[] { "get https://index.docker.io/v1/" }, Calls(bin));
        }

        [TestMethod]
        public async Task CredentialsNotFoundIsAnonymous()
        {
            var (_, env) = InstallFakeHelper();
            var provider = Provider("{\"credsStore\":\"fake\"}", env);
            Assert.IsNull(await provider.GetAsync("unknown.example.com", CancellationToken.None));
            Assert.IsNull(await provider.GetAsync("empty.example.com", CancellationToken.None), "an empty secret is no credential");
        }

        [TestMethod]
        public async Task HelperFailureIsECRC1304()
        {
            var (_, env) = InstallFakeHelper();
            var provider = Provider("{\"credsStore\":\"fake\"}", env);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => provider.GetAsync("broken.example.com", CancellationToken.None));
            Assert.AreEqual("ECRC1304", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "docker-credential-fake");
            StringAssert.Contains(ex.Message, "broken.example.com");
            StringAssert.Contains(ex.Message, "keychain is locked");
            StringAssert.Contains(ex.Message, "exit code 3");
        }

        [TestMethod]
        public async Task HelperGarbageIsECRC1304WithoutEchoingTheOutput()
        {
            var (_, env) = InstallFakeHelper();
            var provider = Provider("{\"credsStore\":\"fake\"}", env);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => provider.GetAsync("garbage.example.com", CancellationToken.None));
            Assert.AreEqual("ECRC1304", ex.Diagnostic.Code);
            Assert.IsFalse(ex.Message.Contains("s3cret-garbage"), ex.Message);
        }

        [TestMethod]
        public async Task HelperNotOnPathIsECRC1304()
        {
            var (_, env) = InstallFakeHelper();
            var provider = Provider("{\"credHelpers\":{\"registry.example.com\":\"missing\"}}", env);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => provider.GetAsync("registry.example.com", CancellationToken.None));
            Assert.AreEqual("ECRC1304", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "docker-credential-missing");
            StringAssert.Contains(ex.Message, "PATH");
        }

        [TestMethod]
        public async Task HelperNameWithPathSeparatorsIsRefused()
        {
            var (_, env) = InstallFakeHelper();
            var provider = Provider("{\"credsStore\":\"../../bin/sh\"}", env);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => provider.GetAsync("registry.example.com", CancellationToken.None));
            Assert.AreEqual("ECRC1304", ex.Diagnostic.Code);
        }

        [TestMethod]
        public async Task HelperTimeoutIsECRC1304()
        {
            var (_, env) = InstallFakeHelper();
            var provider = Provider("{\"credsStore\":\"fake\"}", env);
            provider.HelperTimeout = TimeSpan.FromMilliseconds(500);
            var started = DateTime.UtcNow;
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => provider.GetAsync("slow.example.com", CancellationToken.None));
            Assert.AreEqual("ECRC1304", ex.Diagnostic.Code);
            Assert.IsTrue(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), "the helper must be killed at the timeout");
        }

        [TestMethod]
        public async Task CredHelperWinsOverAuthsAndAuthsWinOverCredsStore()
        {
            var (bin, env) = InstallFakeHelper();
            var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes("stale:old"));
            var provider = Provider(
                "{\"auths\":{\"registry.example.com\":{\"auth\":\"" + auth + "\"},\"other.example.com\":{\"auth\":\"" + auth + "\"}}," +
                "\"credHelpers\":{\"registry.example.com\":\"fake\"},\"credsStore\":\"fake\"}",
                env);

            Assert.AreEqual("alice", (await provider.GetAsync("registry.example.com", CancellationToken.None))?.Username);
            Assert.AreEqual("stale", (await provider.GetAsync("other.example.com", CancellationToken.None))?.Username);
            Assert.AreEqual("local", (await provider.GetAsync("localhost:5000", CancellationToken.None))?.Username);
            CollectionAssert.AreEqual(new[] { "get registry.example.com", "get localhost:5000" }, Calls(bin));
        }

        [TestMethod]
        public async Task ResultsAreCachedPerHost()
        {
            var (bin, env) = InstallFakeHelper();
            var provider = Provider("{\"credsStore\":\"fake\"}", env);
            await provider.GetAsync("registry.example.com", CancellationToken.None);
            await provider.GetAsync("REGISTRY.example.com", CancellationToken.None);
            await provider.GetAsync("unknown.example.com", CancellationToken.None);
            await provider.GetAsync("unknown.example.com", CancellationToken.None);
            Assert.AreEqual(2, Calls(bin).Length);
        }

        [TestMethod]
        public async Task NoConfigMeansAnonymous()
        {
            var (bin, env) = InstallFakeHelper();
            var provider = Provider("{}", env);
            Assert.IsNull(await provider.GetAsync("registry.example.com", CancellationToken.None));
            Assert.AreEqual(0, Calls(bin).Length);
            Assert.AreEqual("/test/config.json", provider.CredentialSource);
        }

        [TestMethod]
        public void FindExecutableSearchesTheGivenPath()
        {
            var (bin, env) = InstallFakeHelper();
            Assert.AreEqual(Path.Combine(bin, "docker-credential-fake"), DockerConfigCredentialProvider.FindExecutable("docker-credential-fake", env));
            Assert.IsNull(DockerConfigCredentialProvider.FindExecutable("docker-credential-fake", _ => "/nonexistent"));
            Assert.IsNull(DockerConfigCredentialProvider.FindExecutable("docker-credential-fake", _ => null));
        }

        [TestMethod]
        public async Task StaticProvider()
        {
            var credential = RegistryCredential.Basic("AWS", "ecr-token");
            var any = new StaticCredentialProvider(credential, "ECR GetAuthorizationToken");
            Assert.AreSame(credential, await any.GetAsync("whatever", CancellationToken.None));
            Assert.AreEqual("ECR GetAuthorizationToken", any.CredentialSource);

            var one = new StaticCredentialProvider("123.dkr.ecr.us-east-1.amazonaws.com", credential);
            Assert.AreSame(credential, await one.GetAsync("123.DKR.ecr.us-east-1.amazonaws.com", CancellationToken.None));
            Assert.IsNull(await one.GetAsync("other.example.com", CancellationToken.None));
            Assert.IsNull(await StaticCredentialProvider.Anonymous.GetAsync("x", CancellationToken.None));
            Assert.IsFalse(any.ToString().Contains("ecr-token"));
        }
    }
}
