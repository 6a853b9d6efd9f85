using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Processes;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;

namespace EcrCache.Tasks.Tests.Registries
{
    /// <summary>
    /// Against the real distribution registries started by build/start-services.sh (inconclusive without them):
    /// ECRCACHE_TEST_REGISTRY (anonymous, holds ecrcache/busybox:1) and ECRCACHE_TEST_AUTH_REGISTRY (htpasswd).
    /// </summary>
    [TestClass]
    public sealed class RegistryClientIntegrationTests
    {
        private const string ProbeRepository = "ecrcache-tests/registry-client";
        private const string ProbeTag = "auth-probe";

        private static RegistryClient Client(string host, IRegistryCredentialProvider? credentials = null, RecordingLog? log = null) =>
            new RegistryClient(RegistryEndpoint.Parse(host, insecure: false), credentials ?? StaticCredentialProvider.Anonymous, log ?? new RecordingLog());

        /// <summary>A docker config in a temp DOCKER_CONFIG, read the way the build reads it.</summary>
        private static DockerConfigCredentialProvider DockerConfigWith(string host, string user, string password)
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-dockercfg");
            var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));
            File.WriteAllText(Path.Combine(dir, "config.json"), "{\"auths\":{\"" + host + "\":{\"auth\":\"" + auth + "\"}}}");
            Func<string, string?> env = name => name == "DOCKER_CONFIG" ? dir : Environment.GetEnvironmentVariable(name);
            return new DockerConfigCredentialProvider(DockerConfig.Load(env, "/nonexistent-home"), ProcessRunner.Instance, env);
        }

        [TestMethod]
        [TestCategory(Categories.Registry)]
        public async Task HeadExistingTagReturnsDigest()
        {
            var registry = TestServices.Registry;
            var log = new RecordingLog();
            using var client = Client(registry, log: log);

            var info = await client.HeadManifestAsync("ecrcache/busybox", "1", CancellationToken.None);

            Assert.IsNotNull(info);
            Assert.IsTrue(Regex.IsMatch(info.Digest, "^sha256:[0-9a-f]{64}$"), info.Digest);
            Assert.IsTrue(info.Size > 0);
            StringAssert.StartsWith(info.MediaType, "application/vnd.");
            var line = log.Lines.Single();
            Assert.IsTrue(
                Regex.IsMatch(line, "^HEAD http://" + Regex.Escape(registry) + "/v2/ecrcache/busybox/manifests/1 -> 200 \\([0-9]+ ms\\)$"),
                line);

            // GET returns the same bytes the digest names; fetching by digest verifies them.
            var (mediaType, body, digest) = await client.GetManifestAsync("ecrcache/busybox", "1", CancellationToken.None);
            Assert.AreEqual(info.Digest, digest);
            Assert.AreEqual(info.MediaType, mediaType);
            Assert.AreEqual(info.Size, body.LongLength);
            Assert.AreEqual(info.Digest, RegistryClient.ComputeDigest(body));
            var byDigest = await client.GetManifestAsync("ecrcache/busybox", info.Digest, CancellationToken.None);
            CollectionAssert.AreEqual(body, byDigest.body);

            var headByDigest = await client.HeadManifestAsync("ecrcache/busybox", info.Digest, CancellationToken.None);
            Assert.AreEqual(info.Digest, headByDigest?.Digest);
        }

        [TestMethod]
        [TestCategory(Categories.Registry)]
        public async Task HeadMissingTagOrRepositoryIsNull()
        {
            using var client = Client(TestServices.Registry);
            Assert.IsNull(await client.HeadManifestAsync("ecrcache/busybox", "no-such-tag-" + Guid.NewGuid().ToString("N"), CancellationToken.None));
            Assert.IsNull(await client.HeadManifestAsync("ecrcache/no-such-repository", "1", CancellationToken.None));
        }

        [TestMethod]
        [TestCategory(Categories.Registry)]
        public async Task GetMissingManifestIsECRC1303WithTheRegistryError()
        {
            using var client = Client(TestServices.Registry);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.GetManifestAsync("ecrcache/busybox", "no-such-tag", CancellationToken.None));
            Assert.AreEqual("ECRC1303", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "404");
            StringAssert.Contains(ex.Message, "MANIFEST_UNKNOWN");
        }

        [TestMethod]
        [TestCategory(Categories.Registry)]
        public async Task PingOpenRegistry()
        {
            using var client = Client(TestServices.Registry);
            Assert.IsTrue(await client.PingAsync(CancellationToken.None));
            await client.EnsureV2Async(CancellationToken.None);
        }

        [TestMethod]
        [TestCategory(Categories.Registry)]
        public async Task AuthRegistryWithRightCredentialsFromDockerConfig()
        {
            var registry = TestServices.AuthRegistry;
            var user = TestServices.AuthUser;
            var password = TestServices.AuthPassword;
            var pushedDigest = await PushProbeImageAsync(registry, user, password);

            var log = new RecordingLog();
            using var client = Client(registry, DockerConfigWith(registry, user, password), log);

            Assert.IsTrue(await client.PingAsync(CancellationToken.None));
            var info = await client.HeadManifestAsync(ProbeRepository, ProbeTag, CancellationToken.None);
            Assert.IsNotNull(info);
            Assert.AreEqual(pushedDigest, info.Digest);
            Assert.IsNull(await client.HeadManifestAsync(ProbeRepository, "missing", CancellationToken.None));

            // The first request learns the Basic challenge (401, then 200); later ones authenticate up front.
            var lines = log.Lines.Where(l => l.StartsWith("GET ", StringComparison.Ordinal) || l.StartsWith("HEAD ", StringComparison.Ordinal)).ToList();
            Assert.AreEqual(4, lines.Count, string.Join("\n", lines));
            StringAssert.Contains(lines[0], "-> 401");
            StringAssert.Contains(lines[1], "-> 200");
            StringAssert.Contains(lines[2], "-> 200");
            StringAssert.Contains(lines[3], "-> 404");
            log.AssertNoSecret(password, Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password)));
        }

        [TestMethod]
        [TestCategory(Categories.Registry)]
        public async Task AuthRegistryWithWrongPasswordIsECRC1302()
        {
            var registry = TestServices.AuthRegistry;
            var log = new RecordingLog();
            using var client = Client(registry, DockerConfigWith(registry, TestServices.AuthUser, "wrong-password-123"), log);

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync(ProbeRepository, ProbeTag, CancellationToken.None));

            Assert.AreEqual("ECRC1302", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, registry);
            StringAssert.Contains(ex.Message, "HTTP 401");
            StringAssert.Contains(ex.Message, "config.json");
            Assert.IsFalse(ex.Message.Contains("wrong-password-123"));
            log.AssertNoSecret("wrong-password-123");
        }

        [TestMethod]
        [TestCategory(Categories.Registry)]
        public async Task AuthRegistryWithoutCredentialsIsECRC1302()
        {
            var registry = TestServices.AuthRegistry;
            var emptyConfigDir = TestPaths.NewTempDirectory("ecrcache-dockercfg");
            Func<string, string?> env = name => name == "DOCKER_CONFIG" ? emptyConfigDir : null;
            var provider = new DockerConfigCredentialProvider(DockerConfig.Load(env, null), ProcessRunner.Instance, env);
            using var client = Client(registry, provider);

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync(ProbeRepository, ProbeTag, CancellationToken.None));
            Assert.AreEqual("ECRC1302", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "no credentials");
            StringAssert.Contains(ex.Message, emptyConfigDir);

            var ping = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.PingAsync(CancellationToken.None));
            Assert.AreEqual("ECRC1302", ping.Diagnostic.Code);
        }

        [TestMethod]
        public async Task ClosedPortIsECRC1301Fast()
        {
            var host = "127.0.0.1:" + Ports.Free();
            var log = new RecordingLog();
            using var client = Client(host, log: log);
            var stopwatch = Stopwatch.StartNew();

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync("ecrcache/busybox", "1", CancellationToken.None));

            Assert.AreEqual("ECRC1301", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, host);
            Assert.IsTrue(stopwatch.Elapsed < TimeSpan.FromSeconds(5), "took " + stopwatch.Elapsed);
            StringAssert.Contains(log.All, "-> failed:");
        }

        [TestMethod]
        public async Task UnresolvableHostIsECRC1301()
        {
            // .invalid never resolves (RFC 2606). The https request fails at DNS, before any TLS.
            using var client = Client("registry.ecrcache.invalid");
            client.Timeout = TimeSpan.FromSeconds(10);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync("a/b", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1301", ex.Diagnostic.Code);
        }

        /// <summary>
        /// Pushes a tiny image (an empty config, no layers) straight through the v2 API so the auth registry holds a
        /// known manifest; idempotent. Returns the manifest digest.
        /// </summary>
        private static async Task<string> PushProbeImageAsync(string registry, string user, string password)
        {
            using var http = new HttpClient { BaseAddress = new Uri("http://" + registry + "/"), Timeout = TimeSpan.FromSeconds(30) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password)));

            var config = Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":{}}");
            var configDigest = RegistryClient.ComputeDigest(config);

            using (var start = await http.PostAsync("v2/" + ProbeRepository + "/blobs/uploads/", null))
            {
                Assert.AreEqual(202, (int)start.StatusCode, "starting a blob upload");
                var location = start.Headers.Location!;
                var upload = location.IsAbsoluteUri ? location : new Uri(http.BaseAddress!, location);
                var separator = string.IsNullOrEmpty(upload.Query) ? "?" : "&";
                using var put = new HttpRequestMessage(HttpMethod.Put, upload + separator + "digest=" + Uri.EscapeDataString(configDigest))
                {
                    Content = new ByteArrayContent(config),
                };
                put.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                using var done = await http.SendAsync(put);
                Assert.AreEqual(201, (int)done.StatusCode, "finishing the blob upload: " + await done.Content.ReadAsStringAsync());
            }

            var manifest = Encoding.UTF8.GetBytes(
                "{\"schemaVersion\":2,\"mediaType\":\"" + ManifestMediaTypes.DockerManifest + "\"," +
                "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":" + config.Length + ",\"digest\":\"" + configDigest + "\"}," +
                "\"layers\":[]}");
            using var putManifest = new HttpRequestMessage(HttpMethod.Put, "v2/" + ProbeRepository + "/manifests/" + ProbeTag)
            {
                Content = new ByteArrayContent(manifest),
            };
            putManifest.Content.Headers.ContentType = new MediaTypeHeaderValue(ManifestMediaTypes.DockerManifest);
            using var response = await http.SendAsync(putManifest);
            Assert.AreEqual(201, (int)response.StatusCode, "putting the manifest: " + await response.Content.ReadAsStringAsync());
            return RegistryClient.ComputeDigest(manifest);
        }
    }
}
