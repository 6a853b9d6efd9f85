using System.Diagnostics;
using System.Text;
using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Keys;
using EcrCache.Keys.BaseImages;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Tasks.Tests.Core;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Keys
{
    /// <summary>
    /// Base-image digests from manifest HEADs, through registry mirrors, against the machine's real dockerd and
    /// docker-registry instances (build/start-services.sh). The open registry plays the mirror of Docker Hub: an image
    /// pushed to it as <c>library/busybox:1</c> is what <c>FROM busybox:1</c> resolves to through it (Docker Hub itself
    /// is not reachable here, so a request that went past the mirror would fail the key). Requests are counted in the
    /// registry's access log. The token-realm and HEAD-without-digest cases use <see cref="FakeTokenRegistry"/>,
    /// because the real docker-registry here has no token server and always sends the digest on HEAD.
    /// </summary>
    [TestClass]
    public sealed class BaseImageMirrorTests
    {
        private string _dir = "";
        private string _id = "";
        private readonly List<string> _localRepositories = new List<string>();

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-mirrors");
            _id = Guid.NewGuid().ToString("N").Substring(0, 12);
            File.WriteAllText(Path.Combine(_dir, "input.txt"), "one\n");
        }

        [TestCleanup]
        public void TearDown()
        {
            foreach (var repository in _localRepositories)
            {
                RealDocker.RemoveRepository(repository);
            }

            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token;

        private string ObjDirectory => Path.Combine(_dir, "obj", "ecrcache");

        private CacheOptions Options(string dockerfile, string? mirrors, Func<string, string?>? environment = null, string? dockerPath = null)
        {
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "mirrors",
                IntermediateDirectory = ObjDirectory,
                ["DockerfileInline"] = dockerfile,
                ["Repository"] = "build-cache/mirrors-" + _id,
                ["DockerPath"] = dockerPath ?? RealDocker.Executable,
                Environment = environment ?? (_ => null),
                ["RegistryMirrors"] = mirrors,
            };
            raw.CacheOn.Add(new RawItem("input.txt"));
            return OptionsParser.Parse(raw, new CapturingBuildLog());
        }

        /// <summary>Builds an image labelled rev=<paramref name="revision"/>, pushes it to registry/path:tag and returns its digest.</summary>
        private string Push(string registry, string path, string tag, string revision)
        {
            var reference = registry + "/" + path + ":" + tag;
            _localRepositories.Add(registry + "/" + path);
            RealDocker.BuildAndPush(reference, revision);
            return RealDocker.RegistryDigest(reference);
        }

        private static KeyManifestEntry BaseEntry(CacheKey key) => key.Manifest.Entries.Single(e => e.Kind == KeyEntryKinds.BaseImage);

        /// <summary>Waits until the access log has <paramref name="expected"/> requests (the registry writes it asynchronously), then a little more to catch extras.</summary>
        private static int WaitForCount(string file, string path, string method, int expected)
        {
            for (var i = 0; i < 50 && RegistryAccessLog.Count(file, path, method) < expected; i++)
            {
                Thread.Sleep(100);
            }

            Thread.Sleep(300);
            return RegistryAccessLog.Count(file, path, method);
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task DockerHubImagesGoThroughTheMirror_WithOneHeadAndNoGetPerKeyComputation()
        {
            RealDocker.Require();
            var logFile = TestServices.Require("ECRCACHE_TEST_REGISTRY_LOG");
            var digest = Push(TestServices.Registry, "library/busybox", "1", "mirror");
            const string path = "/v2/library/busybox/manifests/1";
            var heads = RegistryAccessLog.Count(logFile, path, "HEAD");
            var gets = RegistryAccessLog.Count(logFile, path, "GET");

            for (var run = 1; run <= 3; run++)
            {
                // An ephemeral agent: a fresh obj/ every time, so nothing is cached.
                if (Directory.Exists(Path.Combine(_dir, "obj")))
                {
                    Directory.Delete(Path.Combine(_dir, "obj"), recursive: true);
                }

                var key = await new CacheEngine(Options("FROM busybox:1\n", "http://" + TestServices.Registry), new CapturingBuildLog()).ComputeKeyAsync(Timeout());
                Assert.AreEqual("docker.io/library/busybox:1 linux/amd64", BaseEntry(key).Name);
                Assert.AreEqual(digest, BaseEntry(key).Hash, "keyed on the digest the mirror gave on HEAD");
                Assert.AreEqual(heads + run, WaitForCount(logFile, path, "HEAD", heads + run), "one HEAD per key computation");
            }

            Assert.AreEqual(gets, RegistryAccessLog.Count(logFile, path, "GET"), "no manifest GET (a counted pull at Docker Hub)");
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task AMovedTagIsNoticedWithOneHeadOnceTheWindowHasPassed()
        {
            RealDocker.Require();
            var logFile = TestServices.Require("ECRCACHE_TEST_REGISTRY_LOG");
            var repo = "ecrcache-moved-" + _id + "/busybox";
            var first = Push(TestServices.Registry, repo, "1", "1");
            var path = "/v2/" + repo + "/manifests/1";
            var options = Options("FROM " + repo + ":1\n", "http://" + TestServices.Registry);

            var key1 = await new CacheEngine(options, new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Assert.AreEqual(first, BaseEntry(key1).Hash);
            Assert.AreEqual(1, WaitForCount(logFile, path, "HEAD", 1));

            var second = Push(TestServices.Registry, repo, "1", "2");
            var key2 = await new CacheEngine(options, new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Assert.AreEqual(key1.Hash, key2.Hash, "within the window the cached digest is trusted");
            Assert.AreEqual(1, WaitForCount(logFile, path, "HEAD", 1), "within the window no request is made");

            AgeCacheEntry("docker.io/" + repo + ":1", TimeSpan.FromMinutes(11));
            var key3 = await new CacheEngine(options, new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Assert.AreEqual(second, BaseEntry(key3).Hash, "past the window the digest is revalidated and the move seen");
            Assert.AreNotEqual(key1.Hash, key3.Hash);
            Assert.AreEqual(2, WaitForCount(logFile, path, "HEAD", 2), "revalidation is one HEAD");

            // An unchanged tag past the window: one HEAD, the same key, and the window starts again.
            AgeCacheEntry("docker.io/" + repo + ":1", TimeSpan.FromMinutes(11));
            var key4 = await new CacheEngine(options, new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Assert.AreEqual(key3.Hash, key4.Hash);
            Assert.AreEqual(3, WaitForCount(logFile, path, "HEAD", 3));
            var key5 = await new CacheEngine(options, new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Assert.AreEqual(key3.Hash, key5.Hash);
            Assert.AreEqual(3, WaitForCount(logFile, path, "HEAD", 3), "the revalidated entry is fresh again");
            Assert.AreEqual(0, RegistryAccessLog.Count(logFile, path, "GET"));
        }

        private void AgeCacheEntry(string reference, TimeSpan age)
        {
            var cache = new BaseImageDigestCache(ObjDirectory, TimeSpan.FromMinutes(10), new CapturingBuildLog());
            Assert.IsTrue(cache.TryGet(reference, anyAge: true, out _, out _), "the digest of " + reference + " is cached");
            cache.SetResolvedTime(reference, DateTimeOffset.UtcNow - age);
            cache.Save();
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task AMirrorThatIsDownOrLacksTheImageFallsThroughToTheNext()
        {
            RealDocker.Require();
            var logFile = TestServices.Require("ECRCACHE_TEST_REGISTRY_LOG");
            var repo = "ecrcache-fallthrough-" + _id + "/busybox";
            var digest = Push(TestServices.Registry, repo, "1", "1");
            var down = "http://127.0.0.1:" + Ports.Free();
            var lacking = "http://" + TestServices.AuthRegistry; // the image is not there (and it wants a login we do not have)

            var log = new CapturingBuildLog();
            var stopwatch = Stopwatch.StartNew();
            var key = await new CacheEngine(Options("FROM " + repo + ":1\n", down + ";" + lacking + ";http://" + TestServices.Registry), log).ComputeKeyAsync(Timeout());
            stopwatch.Stop();
            Assert.AreEqual(digest, BaseEntry(key).Hash);
            StringAssert.Contains(log.AllText, "Registry mirror " + down + "/ could not answer");
            StringAssert.Contains(log.AllText, "Registry mirror " + lacking + "/ could not answer");
            Assert.AreEqual(1, WaitForCount(logFile, "/v2/" + repo + "/manifests/1", "HEAD", 1));
            Assert.IsTrue(stopwatch.Elapsed < TimeSpan.FromSeconds(30), "falling through stays within the retry deadline: " + stopwatch.Elapsed);
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task WhenEveryMirrorFailsTheErrorNamesThem()
        {
            RealDocker.Require();
            var down = "http://127.0.0.1:" + Ports.Free();
            var repo = "ecrcache-nowhere-" + _id + "/busybox";
            var dockerfile = "FROM " + repo + ":1\n";

            // Docker Hub is not reachable from here either, so the lookup fails; the message says where it asked.
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => new CacheEngine(Options(dockerfile, down + ";http://" + TestServices.Registry), new CapturingBuildLog()).ComputeKeyAsync(Timeout()));
            Assert.AreEqual("ECRC1111", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, "Registry mirrors asked first: " + down + "/: ECRC");
            StringAssert.Contains(ex.Diagnostic.Message, "http://" + TestServices.Registry + "/: ECRC1303");
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task AMirrorGetsItsOwnCredentialsFromTheDockerConfig_NeverDockerHubs()
        {
            RealDocker.Require();
            using var mirror = new FakeTokenRegistry { AllowAnonymousPull = true };
            var config = Path.Combine(_dir, "docker-config");
            Directory.CreateDirectory(config);
            string Auth(string user, string password) => Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));
            var environment = new Func<string, string?>(name => name == "DOCKER_CONFIG" ? config : null);

            // Only Docker Hub credentials: the mirror's token realm is asked anonymously.
            File.WriteAllText(Path.Combine(config, "config.json"), "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" + Auth("hub-user", "hub-secret") + "\"}}}");
            var key = await new CacheEngine(Options("FROM demo/app:1\n", "http://" + mirror.Host, environment), new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Assert.AreEqual(mirror.ManifestDigest, BaseEntry(key).Hash);
            var tokenRequests = mirror.Requests.Where(r => r.Contains(" /token", StringComparison.Ordinal)).ToList();
            Assert.IsTrue(tokenRequests.Count > 0, string.Join("\n", mirror.Requests));
            Assert.IsTrue(tokenRequests.All(r => r.EndsWith(" -", StringComparison.Ordinal)), "Docker Hub's credentials never reach a mirror:\n" + string.Join("\n", tokenRequests));

            // Credentials for the mirror's host: the token realm gets them.
            File.WriteAllText(Path.Combine(config, "config.json"), "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" + Auth("hub-user", "hub-secret") + "\"},\"" + mirror.Host + "\":{\"auth\":\"" + Auth(mirror.Username, mirror.Password) + "\"}}}");
            Directory.Delete(Path.Combine(_dir, "obj"), recursive: true);
            var before = mirror.Requests.Count;
            var log = new CapturingBuildLog();
            await new CacheEngine(Options("FROM demo/app:1\n", "http://" + mirror.Host, environment), log).ComputeKeyAsync(Timeout());
            var later = mirror.Requests.Skip(before).Where(r => r.Contains(" /token", StringComparison.Ordinal)).ToList();
            Assert.IsTrue(later.Count > 0 && later.All(r => r.EndsWith(" Basic", StringComparison.Ordinal)), string.Join("\n", mirror.Requests));
            Assert.IsFalse(log.AllText.Contains(mirror.Password, StringComparison.Ordinal), "credentials are never logged");
            Assert.IsFalse(log.AllText.Contains("hub-secret", StringComparison.Ordinal));
        }

        [TestMethod]
        public async Task DockerHubCredentialsFromTheDockerConfigGoToDockerHubsTokenRealm()
        {
            // Docker Hub cannot be reached from here: a handler sends what is addressed to registry-1.docker.io and
            // to its token realm auth.docker.io to a FAKE registry instead (everything else about the request is
            // unchanged). The realm is Docker Hub's own: a public registry's credentials never go to a loopback realm.
            using var hub = new FakeTokenRegistry { AllowAnonymousPull = true, Realm = "https://auth.docker.io/token" };
            var config = Path.Combine(_dir, "hub-config.json");
            var froms = EcrCache.Keys.Dockerfiles.DockerfileParser.ParseFromInstructions("FROM demo/app:1\n");
            async Task<List<string>> TokenRequests(string? configJson)
            {
                File.WriteAllText(config, configJson ?? "{}");
                var before = hub.Requests.Count;
                var credentials = new EcrCache.Registries.Auth.DockerConfigCredentialProvider(EcrCache.Registries.Auth.DockerConfig.LoadFile(config), ProcessRunner.Instance);
                using var handler = new HostRewritingHandler(hub.Port, "registry-1.docker.io", "auth.docker.io");
                using var resolver = new BaseImageResolver(new CapturingBuildLog(), credentials, null, handler);
                var resolved = await resolver.ResolveAsync(froms, new[] { "linux/amd64" }, BaseImageDigestMode.On, null, false, Timeout());
                Assert.AreEqual(hub.ManifestDigest, resolved.Single().Value);
                return hub.Requests.Skip(before).Where(r => r.Contains(" /token", StringComparison.Ordinal)).ToList();
            }

            var anonymous = await TokenRequests(null);
            Assert.IsTrue(anonymous.Count > 0 && anonymous.All(r => r.EndsWith(" -", StringComparison.Ordinal)), string.Join("\n", anonymous));
            var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes(hub.Username + ":" + hub.Password));
            var signedIn = await TokenRequests("{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" + auth + "\"}}}");
            Assert.IsTrue(signedIn.Count > 0 && signedIn.All(r => r.EndsWith(" Basic", StringComparison.Ordinal)), "the Docker Hub login is used for Docker Hub:\n" + string.Join("\n", signedIn));
        }

        /// <summary>Sends requests for one host to a loopback port instead, keeping the path and headers.</summary>
        private sealed class HostRewritingHandler : DelegatingHandler
        {
            private readonly string[] _hosts;
            private readonly int _port;

            public HostRewritingHandler(int port, params string[] hosts)
                : base(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false })
            {
                _hosts = hosts;
                _port = port;
            }

            protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                if (_hosts.Contains(request.RequestUri!.Host))
                {
                    request.RequestUri = new UriBuilder(request.RequestUri) { Scheme = "http", Host = "127.0.0.1", Port = _port }.Uri;
                }

                return base.SendAsync(request, cancellationToken);
            }
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task ARegistryThatGivesNoDigestOnHeadCostsOneGet()
        {
            RealDocker.Require();
            using var registry = new FakeTokenRegistry { AllowAnonymousPull = true, OmitDigestOnHead = true };
            var froms = EcrCache.Keys.Dockerfiles.DockerfileParser.ParseFromInstructions("FROM " + registry.Host + "/demo/app:1\n");
            var credentials = new EcrCache.Registries.Auth.DockerConfigCredentialProvider(EcrCache.Registries.Auth.DockerConfig.LoadFile(Path.Combine(_dir, "none.json")), ProcessRunner.Instance);
            using var resolver = new BaseImageResolver(new CapturingBuildLog(), credentials, null);
            var resolved = await resolver.ResolveAsync(froms, new[] { "linux/amd64" }, BaseImageDigestMode.On, null, false, Timeout());
            Assert.AreEqual(registry.ManifestDigest, resolved.Single().Value, "the digest of the manifest's bytes");
            Assert.AreEqual(1, resolver.ManifestHeads);
            Assert.AreEqual(1, resolver.ManifestGets);
            Assert.AreEqual(1, registry.Requests.Count(r => r.StartsWith("GET /v2/demo/app/manifests/1", StringComparison.Ordinal)));
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task TheDaemonsRegistryMirrorsAreUsed()
        {
            RealDocker.Require();
            var logFile = TestServices.Require("ECRCACHE_TEST_REGISTRY_LOG");
            var repo = "ecrcache-daemonmirror-" + _id + "/busybox";
            var digest = Push(TestServices.Registry, repo, "1", "1");
            using var daemon = SecondDaemon.Start(_dir, "http://" + TestServices.Registry);

            var log = new CapturingBuildLog();
            var key = await new CacheEngine(Options("FROM " + repo + ":1\n", mirrors: null, dockerPath: daemon.DockerWrapper), log).ComputeKeyAsync(Timeout());
            Assert.AreEqual(digest, BaseEntry(key).Hash);
            StringAssert.Contains(log.AllText, "The Docker daemon's registry mirrors: http://" + TestServices.Registry + "/.");
            Assert.AreEqual(1, WaitForCount(logFile, "/v2/" + repo + "/manifests/1", "HEAD", 1));

            // EcrCacheRegistryMirrors=none: the daemon's mirror is not used (and Docker Hub cannot be reached here).
            Directory.Delete(Path.Combine(_dir, "obj"), recursive: true);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => new CacheEngine(Options("FROM " + repo + ":1\n", mirrors: "none", dockerPath: daemon.DockerWrapper), new CapturingBuildLog()).ComputeKeyAsync(Timeout()));
            Assert.AreEqual("ECRC1111", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, "registry-1.docker.io");
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task ABuildThatFailsOnAnIndexWithoutThePlatformIsECRC1113()
        {
            RealDocker.Require();
            var repo = "ecrcache-armonly-" + _id + "/busybox";
            Push(TestServices.Registry, repo, "arm", "arm");
            using var http = new HttpClient { BaseAddress = new Uri("http://" + TestServices.Registry + "/") };
            using var head = new HttpRequestMessage(HttpMethod.Head, "v2/" + repo + "/manifests/arm");
            head.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
            using var headResponse = await http.SendAsync(head);
            var armDigest = headResponse.Headers.GetValues("Docker-Content-Digest").First();
            var json = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\""
                + headResponse.Content.Headers.ContentType!.MediaType + "\",\"digest\":\"" + armDigest + "\",\"size\":" + headResponse.Content.Headers.ContentLength
                + ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}}]}";
            using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(json));
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/vnd.oci.image.index.v1+json");
            using var put = await http.PutAsync("v2/" + repo + "/manifests/multi", content);
            Assert.IsTrue(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());

            var options = Options("FROM " + TestServices.Registry + "/" + repo + ":multi\nRUN true\n", mirrors: "none");
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => new CacheEngine(options, new CapturingBuildLog()).EnsureAsync(Timeout()));
            Assert.AreEqual("ECRC1113", ex.Diagnostic.Code, ex.Diagnostic.ToString());
            StringAssert.Contains(ex.Diagnostic.Message, "linux/amd64");
            StringAssert.Contains(ex.Diagnostic.Message, "linux/arm64");
            Assert.IsInstanceOfType<EcrCacheException>(ex.InnerException, "the build's own failure is kept");
        }

        // ---------------------------------------------------------------- parsing

        [TestMethod]
        [DataRow("https://mirror.gcr.io", "https://mirror.gcr.io/")]
        [DataRow("http://10.0.0.5:5000/", "http://10.0.0.5:5000/")]
        [DataRow("127.0.0.1:5000", "http://127.0.0.1:5000/")]
        [DataRow("mirror.example.com", "https://mirror.example.com/")]
        public void MirrorUrlsAreParsedAsDockerdTakesThem(string text, string baseUri)
        {
            var mirrors = RegistryMirrors.ParseOption(text);
            Assert.AreEqual(baseUri, mirrors!.Single().BaseUri.ToString());
        }

        [TestMethod]
        public void AListKeepsItsOrder_NoneIsEmpty_BlankIsTheDaemons()
        {
            CollectionAssert.AreEqual(
                new[] { "https://b.example/", "http://127.0.0.1:1/" },
                RegistryMirrors.ParseOption(" https://b.example ; http://127.0.0.1:1 ;")!.Select(m => m.BaseUri.ToString()).ToArray());
            Assert.AreEqual(0, RegistryMirrors.ParseOption("none")!.Count);
            Assert.IsNull(RegistryMirrors.ParseOption("  "));
        }

        [TestMethod]
        [DataRow("ftp://mirror.example")]
        [DataRow("https://mirror.example/v2/path")]
        [DataRow("https://user:pw@mirror.example")]
        [DataRow("https://")]
        public void ABadMirrorIsECRC1118(string text)
        {
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => RegistryMirrors.ParseOption("https://ok.example;" + text));
            Assert.AreEqual("ECRC1118", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, "EcrCacheRegistryMirrors");
        }

        [TestMethod]
        public void DockerInfoOutputIsReadAsAList()
        {
            CollectionAssert.AreEqual(new[] { "http://127.0.0.1:5999/", "https://mirror.gcr.io/" }, RegistryMirrors.ParseDockerInfo("[\"http://127.0.0.1:5999/\",\"https://mirror.gcr.io/\"]\n").ToArray());
            Assert.AreEqual(0, RegistryMirrors.ParseDockerInfo("null\n").Count);
            Assert.AreEqual(0, RegistryMirrors.ParseDockerInfo("").Count);
            Assert.AreEqual(0, RegistryMirrors.ParseDockerInfo("not json").Count);
        }

        [TestMethod]
        public void TheOptionReachesTheParsedOptions()
        {
            Assert.AreEqual("http://127.0.0.1:5000/", Options("FROM scratch\n", "http://127.0.0.1:5000").RegistryMirrors!.Single().BaseUri.ToString());
            Assert.IsNull(Options("FROM scratch\n", null).RegistryMirrors);
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => Options("FROM scratch\n", "ftp://x"));
            Assert.AreEqual("ECRC1118", ex.Diagnostic.Code);
        }

        /// <summary>
        /// A second, real dockerd of the test's own (its own data root, socket, containerd namespace and bridge),
        /// started with --registry-mirror so that 'docker info' reports it as a configured daemon does; stopped by pid.
        /// It gets a bridge interface of its own: a dockerd started with --bridge=none deletes docker0, which would
        /// break every RUN step of the machine's daemon.
        /// </summary>
        private sealed class SecondDaemon : IDisposable
        {
            private readonly Process _process;
            private readonly string _root;

            private readonly string _bridge;

            private SecondDaemon(Process process, string root, string bridge, string wrapper)
            {
                _process = process;
                _root = root;
                _bridge = bridge;
                DockerWrapper = wrapper;
            }

            /// <summary>A docker client script that talks to this daemon.</summary>
            public string DockerWrapper { get; }

            public static SecondDaemon Start(string directory, string mirror)
            {
                const string dockerd = "/usr/sbin/dockerd";
                if (!File.Exists(dockerd) || Environment.UserName != "root")
                {
                    Assert.Inconclusive("a second dockerd needs " + dockerd + " and root");
                }

                // Short paths: unix socket paths are limited to 108 bytes.
                var suffix = Guid.NewGuid().ToString("N").Substring(0, 8);
                var root = Path.Combine(Path.GetTempPath(), "ecrd-" + suffix);
                Directory.CreateDirectory(root);
                var bridge = "ecrt" + suffix; // at most 15 characters
                Assert.AreEqual(0, RunIp("link", "add", "name", bridge, "type", "bridge"), "ip link add " + bridge);
                var socket = Path.Combine(root, "d.sock");
                var psi = new ProcessStartInfo(dockerd)
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    RedirectStandardInput = true,
                };
                foreach (var arg in new[]
                {
                    "--data-root", Path.Combine(root, "data"), "--exec-root", Path.Combine(root, "exec"), "--pidfile", Path.Combine(root, "d.pid"),
                    "-H", "unix://" + socket, "--bridge=" + bridge, "--iptables=false", "--ip6tables=false", "--ip-masq=false",
                    "--containerd-namespace", "ecrtest-" + Path.GetFileName(root), "--containerd-plugins-namespace", "ecrtestp-" + Path.GetFileName(root),
                    "--registry-mirror", mirror,
                })
                {
                    psi.ArgumentList.Add(arg);
                }

                var process = Process.Start(psi)!;
                process.StandardInput.Close();
                var output = new StringBuilder();
                process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
                process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();

                var wrapper = Path.Combine(directory, "docker-second");
                File.WriteAllText(wrapper, "#!/bin/sh\nexec " + RealDocker.Executable + " -H unix://" + socket + " \"$@\"\n");
                File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                var daemon = new SecondDaemon(process, root, bridge, wrapper);
                for (var i = 0; i < 120; i++)
                {
                    if (process.HasExited)
                    {
                        daemon.Dispose();
                        Assert.Fail("the second dockerd exited: " + output);
                    }

                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    if (ProcessRunner.Instance.RunAsync(new ProcessSpec(wrapper, new[] { "info", "--format", "{{.ID}}" }), cts.Token).GetAwaiter().GetResult().ExitCode == 0)
                    {
                        return daemon;
                    }

                    Thread.Sleep(250);
                }

                daemon.Dispose();
                Assert.Fail("the second dockerd did not answer within 30 s: " + output);
                return null!;
            }

            private static int RunIp(params string[] arguments)
            {
                var psi = new ProcessStartInfo("ip") { UseShellExecute = false };
                foreach (var argument in arguments)
                {
                    psi.ArgumentList.Add(argument);
                }

                using var ip = Process.Start(psi)!;
                ip.WaitForExit(10_000);
                return ip.ExitCode;
            }

            public void Dispose()
            {
                // SIGTERM by pid: dockerd shuts down cleanly (unmounts, stops its containerd); SIGKILL only if it hangs.
                if (!_process.HasExited)
                {
                    using var kill = Process.Start(new ProcessStartInfo("kill", "-TERM " + _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)) { UseShellExecute = false })!;
                    kill.WaitForExit(5_000);
                }

                if (!_process.WaitForExit(20_000))
                {
                    _process.Kill();
                    _process.WaitForExit(10_000);
                }

                _process.Dispose();
                RunIp("link", "delete", _bridge);
                try
                {
                    Directory.Delete(_root, recursive: true);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    // A mount the killed daemon left behind: harmless in a temp folder.
                }
            }
        }
    }
}
