using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Keys;
using EcrCache.Keys.BaseImages;
using EcrCache.Keys.Dockerfiles;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Registries.Auth;
using EcrCache.Tasks.Tests.Core;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Keys
{
    /// <summary>
    /// Base-image digests, platforms, explain and the layer cache against the machine's real dockerd and open
    /// docker-registry (build/start-services.sh). Each test pushes its own uniquely named base images and uses its own
    /// repository; local tags it created are removed afterwards (registry content stays: it is unique and harmless).
    /// </summary>
    [TestClass]
    public sealed class KeyFeatureEngineTests
    {
        private const string LegacyDocker = "/usr/local/bin/docker"; // Docker 28 client without buildx: legacy builder
        private string _dir = "";
        private string _id = "";
        private readonly List<string> _localRepositories = new List<string>();

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-keys");
            _id = Guid.NewGuid().ToString("N").Substring(0, 12);
            File.WriteAllText(Path.Combine(_dir, "package.json"), "{\"name\":\"keys\"}\n");
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

        private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

        private string Repository(string hint)
        {
            var repository = "build-cache/keys-" + hint + "-" + _id;
            _localRepositories.Add(repository);
            return repository;
        }

        private CacheOptions Options(string dockerfile, Action<RawOptions>? configure = null, CapturingBuildLog? log = null)
        {
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "keys",
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache"),
                ["DockerfileInline"] = dockerfile,
                ["Repository"] = Repository("engine"),
                ["DockerPath"] = RealDocker.Executable,
                Environment = _ => null,
            };
            raw.CacheOn.Add(new RawItem("package.json"));
            raw.CacheOn.Add(new RawItem("input.txt"));
            configure?.Invoke(raw);
            return OptionsParser.Parse(raw, log ?? new CapturingBuildLog());
        }

        /// <summary>Pushes an image with a label rev=<paramref name="revision"/> as registry/keys-base-id/busybox:tag.</summary>
        private string PushBase(string revision, string tag = "1", string name = "base")
        {
            var reference = TestServices.Registry + "/keys-" + name + "-" + _id + "/busybox:" + tag;
            _localRepositories.Add(reference.Substring(0, reference.LastIndexOf(':')));
            RealDocker.BuildAndPush(reference, revision);
            return reference;
        }

        private static string RegistryDigest(string reference) => RealDocker.RegistryDigest(reference);

        private static KeyManifestEntry BaseEntry(CacheKey key) => key.Manifest.Entries.Single(e => e.Kind == KeyEntryKinds.BaseImage);

        // ---------------------------------------------------------------- base image digests

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task ARePushedBaseImageGivesAMissThatSaysWhy_AndTheBuildUsesTheNewBase()
        {
            RealDocker.Require();
            var baseRef = PushBase("1");
            var options = Options("FROM " + baseRef + "\nLABEL org.ecrcache.test=keys\n", r => r["BaseImageDigestsCacheMinutes"] = "0");

            var first = await new CacheEngine(options, new CapturingBuildLog()).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, first.Result);
            var entry = BaseEntry(first.Key);
            Assert.AreEqual(baseRef + " linux/amd64", entry.Name);
            Assert.AreEqual(RegistryDigest(baseRef), entry.Hash, "the key holds the registry's manifest digest");

            Assert.AreEqual(CacheResult.HitLocal, (await new CacheEngine(options, new CapturingBuildLog()).EnsureAsync(Timeout())).Result);

            PushBase("2");
            var log = new CapturingBuildLog();
            var second = await new CacheEngine(options, log).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, second.Result, log.AllText);
            Assert.AreNotEqual(first.Tag, second.Tag);
            StringAssert.Contains(log.AllText, "base image " + baseRef + " linux/amd64 changed: " + entry.Hash + " -> " + BaseEntry(second.Key).Hash);
            var changes = log.Lines.Where(l => l.StartsWith("info:   - ", StringComparison.Ordinal)).ToList();
            Assert.AreEqual(1, changes.Count, "only the base image changed:\n" + log.AllText);
            var label = RealDocker.Run("image", "inspect", "--format", "{{index .Config.Labels \"rev\"}}", second.Reference).StandardOutput.Trim();
            Assert.AreEqual("2", label, "the miss was built from the base image that was keyed (docker build --pull)");
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task APinnedDigestIsKeyedAsWrittenWithoutAnyRegistryRequest()
        {
            RealDocker.Require();
            var logFile = TestServices.Require("ECRCACHE_TEST_REGISTRY_LOG");
            var repo = "keys-pinned-" + _id + "/app";
            const string digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
            var options = Options("FROM " + TestServices.Registry + "/" + repo + "@" + digest + "\n");
            var key = await new CacheEngine(options, new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Assert.AreEqual(digest, BaseEntry(key).Hash);
            Assert.IsFalse(File.ReadAllText(logFile).Contains(repo, StringComparison.Ordinal), "a pinned image must not be looked up");
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task ResolvedDigestsAreCachedSoTheNextKeyMakesNoRequest()
        {
            RealDocker.Require();
            var logFile = TestServices.Require("ECRCACHE_TEST_REGISTRY_LOG");
            var baseRef = PushBase("1", name: "cached");
            var path = "/v2/keys-cached-" + _id + "/busybox/manifests/1";
            var options = Options("FROM " + baseRef + "\n");
            var before = CountLines(logFile, path);
            var key1 = await new CacheEngine(options, new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            var afterFirst = WaitForMore(logFile, path, before);
            Assert.IsTrue(afterFirst > before, "the first key asks the registry");
            Assert.IsTrue(File.Exists(Path.Combine(_dir, "obj", "ecrcache", BaseImageDigestCache.FileName)));

            var key2 = await new CacheEngine(options, new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Thread.Sleep(500); // give the registry's access log a moment to show a request, if one was made
            Assert.AreEqual(afterFirst, CountLines(logFile, path), "within EcrCacheBaseImageDigestsCacheMinutes no request is made");
            Assert.AreEqual(key1.Hash, key2.Hash);
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task ALocalOnlyBaseIsKeyedOnItsImageId_AndTheRegistryIsNotAskedAgainWithinTheCacheTime()
        {
            RealDocker.Require();
            var logFile = TestServices.Require("ECRCACHE_TEST_REGISTRY_LOG");
            var repo = "keys-localonly-" + _id + "/busybox";
            var local = TestServices.Registry + "/" + repo + ":1"; // tagged in the daemon, never pushed: the registry says 404
            _localRepositories.Add(TestServices.Registry + "/" + repo);
            Assert.AreEqual(0, RealDocker.Run("tag", RealDocker.BaseImage, local).ExitCode);
            var id = RealDocker.Run("image", "inspect", "--format", "{{.Id}}", local).StandardOutput.Trim();
            var options = Options("FROM " + local + "\n");
            var path = "/v2/" + repo + "/manifests/1";

            var log = new CapturingBuildLog();
            var first = await new CacheEngine(options, log).ComputeKeyAsync(Timeout());
            Assert.AreEqual("image-id " + id, BaseEntry(first).Hash);
            StringAssert.Contains(log.AllText, "the Docker daemon has it: keying on its local image id");
            var afterFirst = WaitForMore(logFile, path, 0);
            Assert.IsTrue(afterFirst > 0, "the first key asks the registry");

            var second = await new CacheEngine(options, new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Thread.Sleep(500);
            Assert.AreEqual(afterFirst, CountLines(logFile, path), "the registry's 'no' is cached; only the daemon is asked");
            Assert.AreEqual(first.Hash, second.Hash);

            // A rebuilt local base changes the key at once (the id itself is never cached).
            var spec = new ProcessSpec(RealDocker.Executable, new[] { "build", "-q", "-t", local, "-" }) { StandardInput = "FROM " + RealDocker.BaseImage + "\nLABEL rebuilt=\"" + _id + "\"\n" };
            Assert.AreEqual(0, (await ProcessRunner.Instance.RunAsync(spec, Timeout())).ExitCode);
            var third = await new CacheEngine(options, new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Assert.AreNotEqual(first.Hash, third.Hash);
        }

        /// <summary>Manifest requests (HEAD or GET) for <paramref name="text"/> in the registry's access log.</summary>
        private static int CountLines(string file, string text) => RegistryAccessLog.Count(file, text, "HEAD") + RegistryAccessLog.Count(file, text, "GET");

        private static int WaitForMore(string file, string text, int before)
        {
            for (var i = 0; i < 50; i++)
            {
                var n = CountLines(file, text);
                if (n > before)
                {
                    return n;
                }

                Thread.Sleep(100);
            }

            return before;
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task StageNamesAreNotLookedUpAndArgSubstitutedFromLinesAre()
        {
            RealDocker.Require();
            var baseRef = PushBase("1", name: "arg");
            // Were the default (Docker Hub, unreachable here) or the stage name "build" looked up, this would fail.
            const string dockerfile = "ARG BASE=docker.io/library/ecrcache-never-there:1\nFROM ${BASE} AS build\nRUN true\nFROM build\nFROM scratch\n";
            var options = Options(dockerfile, r => r.BuildArgs.Add(new RawItem("BASE", new Dictionary<string, string> { ["Value"] = baseRef })));
            var key = await new CacheEngine(options, new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            var entry = BaseEntry(key);
            Assert.AreEqual(baseRef + " linux/amd64", entry.Name);
            Assert.AreEqual(RegistryDigest(baseRef), entry.Hash);
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task AnUnreachableBaseRegistryIsAnError_OrAWarningWithBestEffort()
        {
            RealDocker.Require();
            var dockerfile = "FROM 127.0.0.1:" + Ports.Free() + "/nobody/home:1\n";
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => new CacheEngine(Options(dockerfile), new CapturingBuildLog()).ComputeKeyAsync(Timeout()));
            Assert.AreEqual("ECRC1111", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, "nobody/home:1");

            var log = new CapturingBuildLog();
            var key = await new CacheEngine(Options(dockerfile, r => r["BaseImageDigests"] = "BestEffort"), log).ComputeKeyAsync(Timeout());
            CollectionAssert.Contains(log.WarningCodes.ToList(), "ECRC1112");
            Assert.AreEqual("unresolved", BaseEntry(key).Hash);
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task AnIndexIsKeyedOnItsOwnDigestFromOneHead_AndAMissingPlatformIsNamedOnlyAfterAFailedBuild()
        {
            RealDocker.Require();
            var logFile = TestServices.Require("ECRCACHE_TEST_REGISTRY_LOG");
            var amd = PushBase("amd", tag: "amd", name: "index");
            var arm = PushBase("arm", tag: "arm", name: "index");
            var repo = "keys-index-" + _id + "/busybox";
            using var http = new HttpClient { BaseAddress = new Uri("http://" + TestServices.Registry + "/") };
            async Task<(string Digest, long Size, string Type)> Head(string tag)
            {
                using var request = new HttpRequestMessage(HttpMethod.Head, "v2/" + repo + "/manifests/" + tag);
                request.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
                request.Headers.Accept.ParseAdd("application/vnd.oci.image.index.v1+json");
                using var response = await http.SendAsync(request);
                return (response.Headers.GetValues("Docker-Content-Digest").First(), response.Content.Headers.ContentLength!.Value, response.Content.Headers.ContentType!.MediaType!);
            }

            var a = await Head("amd");
            var r = await Head("arm");
            async Task<string> PutIndex(params (string Digest, long Size, string Type, string Os, string Arch)[] entries)
            {
                var json = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
                    + string.Join(",", entries.Select(e => "{\"mediaType\":\"" + e.Type + "\",\"digest\":\"" + e.Digest + "\",\"size\":" + e.Size + ",\"platform\":{\"os\":\"" + e.Os + "\",\"architecture\":\"" + e.Arch + "\"}}")) + "]}";
                using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(json));
                content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/vnd.oci.image.index.v1+json");
                using var response = await http.PutAsync("v2/" + repo + "/manifests/multi", content);
                Assert.IsTrue(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
                return response.Headers.GetValues("Docker-Content-Digest").First();
            }

            var indexDigest = await PutIndex((a.Digest, a.Size, a.Type, "linux", "amd64"), (r.Digest, r.Size, r.Type, "linux", "arm64"));
            var froms = DockerfileParser.ParseFromInstructions("FROM " + TestServices.Registry + "/" + repo + ":multi\n");
            BaseImageResolver NewResolver() => new BaseImageResolver(new CapturingBuildLog(), new DockerConfigCredentialProvider(DockerConfig.LoadFile(Path.Combine(_dir, "no-config.json")), ProcessRunner.Instance), null);
            var path = "/v2/" + repo + "/manifests/multi";
            var getsBefore = RegistryAccessLog.Count(logFile, path, "GET");
            async Task<IReadOnlyList<ResolvedBaseImage>> Resolve(string platform)
            {
                using var resolver = NewResolver();
                var resolved = await resolver.ResolveAsync(froms, new[] { platform }, BaseImageDigestMode.On, null, false, Timeout());
                Assert.AreEqual(1, resolver.ManifestHeads);
                Assert.AreEqual(0, resolver.ManifestGets, "the registry gives the digest on HEAD");
                return resolved;
            }

            Assert.AreEqual(indexDigest, (await Resolve("linux/amd64")).Single().Value, "the index digest is keyed: it is what HEAD returns");
            Assert.AreEqual(indexDigest, (await Resolve("linux/arm64")).Single().Value);
            var s390x = await Resolve("linux/s390x");
            Assert.AreEqual(indexDigest, s390x.Single().Value, "no GET on the hot path, so a missing platform is not known yet");
            Thread.Sleep(300);
            Assert.AreEqual(getsBefore, RegistryAccessLog.Count(logFile, path, "GET"), "computing keys made no manifest GET");

            // After a failed build the index is fetched once to say why.
            using (var resolver = NewResolver())
            {
                var missing = await resolver.FindMissingPlatformAsync(s390x, Timeout());
                Assert.IsNotNull(missing);
                Assert.AreEqual("ECRC1113", missing.Diagnostic.Code);
                StringAssert.Contains(missing.Diagnostic.Message, "linux/amd64, linux/arm64");
                Assert.AreEqual(1, resolver.ManifestGets);
                Assert.IsNull(await resolver.FindMissingPlatformAsync(await Resolve("linux/amd64"), Timeout()), "the index has amd64");
            }

            // Another architecture added to the index moves the tag's digest, and with it the key.
            var moved = await PutIndex((a.Digest, a.Size, a.Type, "linux", "amd64"), (r.Digest, r.Size, r.Type, "linux", "arm64"), (r.Digest, r.Size, r.Type, "linux", "s390x"));
            Assert.AreNotEqual(indexDigest, moved);
            Assert.AreEqual(moved, (await Resolve("linux/amd64")).Single().Value);
            _ = amd;
            _ = arm;
        }

        // ---------------------------------------------------------------- platform

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task EcrCachePlatformReplacesTheDaemonsPlatformInTheKey()
        {
            RealDocker.Require();
            var daemon = await new CacheEngine(Options("FROM scratch\n"), new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            var arm = await new CacheEngine(Options("FROM scratch\n", r => r["Platform"] = "linux/arm64"), new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Assert.AreEqual("linux/amd64", daemon.Manifest.Entries.Single(e => e.Kind == KeyEntryKinds.Platform).Hash);
            Assert.AreEqual("linux/arm64", arm.Manifest.Entries.Single(e => e.Kind == KeyEntryKinds.Platform).Hash);
            Assert.AreNotEqual(daemon.Tag, arm.Tag);
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task EachPlatformOfAListResolvesItsOwnFromLines()
        {
            RealDocker.Require();
            var amd = PushBase("a", tag: "amd64", name: "arch");
            var arm = PushBase("b", tag: "arm64", name: "arch");
            var image = amd.Substring(0, amd.LastIndexOf(':'));
            var key = await new CacheEngine(Options("FROM " + image + ":${TARGETARCH}\n", r => r["Platform"] = "linux/arm64,linux/amd64"), new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Assert.AreEqual("linux/amd64,linux/arm64", key.Manifest.Entries.Single(e => e.Kind == KeyEntryKinds.Platform).Hash);
            CollectionAssert.AreEqual(
                new[] { amd + " linux/amd64=" + RegistryDigest(amd), arm + " linux/arm64=" + RegistryDigest(arm) },
                key.Manifest.Entries.Where(e => e.Kind == KeyEntryKinds.BaseImage).Select(e => e.Name + "=" + e.Hash).ToArray());
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task SeveralPlatformsNeedBuildxAndARegistry()
        {
            RealDocker.Require();
            var local = await Assert.ThrowsExactlyAsync<EcrCacheException>(() =>
                new CacheEngine(Options("FROM scratch\n", r => r["Platform"] = "linux/amd64,linux/arm64"), new CapturingBuildLog()).EnsureAsync(Timeout()));
            Assert.AreEqual("ECRC1211", local.Diagnostic.Code);

            var registry = await Assert.ThrowsExactlyAsync<EcrCacheException>(() =>
                new CacheEngine(
                    Options("FROM scratch\n", r =>
                    {
                        r["Platform"] = "linux/amd64,linux/arm64";
                        r["Provider"] = "registry";
                        r["Registry"] = TestServices.Registry;
                    }),
                    new CapturingBuildLog()).EnsureAsync(Timeout()));
            Assert.AreEqual("ECRC1210", registry.Diagnostic.Code, "/usr/bin/docker has no buildx plugin");
        }

        // ---------------------------------------------------------------- explain

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task ExplainNamesExactlyTheChangedFile_WithoutDocker()
        {
            RealDocker.Require();
            var options = Options("FROM " + RealDocker.BaseImage + "\nLABEL org.ecrcache.test=explain\n", r => r.BuildArgs.Add(new RawItem("SECRETISH", new Dictionary<string, string> { ["Value"] = "value-" + _id })));
            var built = await new CacheEngine(options, new CapturingBuildLog()).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, built.Result);

            File.WriteAllText(Path.Combine(_dir, "input.txt"), "two\n");
            var noDocker = Options("FROM " + RealDocker.BaseImage + "\nLABEL org.ecrcache.test=explain\n", r =>
            {
                r["DockerPath"] = "/nonexistent/docker";
                r.BuildArgs.Add(new RawItem("SECRETISH", new Dictionary<string, string> { ["Value"] = "value-" + _id }));
            });
            var log = new CapturingBuildLog();
            var explained = await new CacheEngine(noDocker, log).ExplainAsync(Timeout());
            var text = log.AllText;
            StringAssert.Contains(text, "changes since the last ensured key " + built.Tag + ":");
            var changes = log.Lines.Where(l => l.StartsWith("important:     - ", StringComparison.Ordinal)).ToList();
            CollectionAssert.AreEqual(new[] { "important:     - file input.txt changed" }, changes, text);
            StringAssert.Contains(text, "platform: linux/amd64 (the daemon's, as the last EnsureCachedImage run saw it)");
            StringAssert.Contains(text, "build-arg SECRETISH = sha256 of the value (not shown)");
            Assert.IsFalse(text.Contains("value-" + _id, StringComparison.Ordinal), "build-arg values never appear");
            Assert.AreEqual(0, log.Errors.Count, text);
            Assert.AreNotEqual(built.Key.Hash, explained.Hash);

            // The explained key is the key the next EnsureCachedImage uses (same platform, same base image keying).
            var log2 = new CapturingBuildLog();
            var next = await new CacheEngine(options, log2).EnsureAsync(Timeout());
            Assert.AreEqual(explained.Hash, next.Key.Hash, log2.AllText);
            StringAssert.Contains(log2.AllText, "info:   - file input.txt changed", "a miss logs the same explanation");
        }

        [TestMethod]
        [TestCategory(Categories.Registry)]
        public async Task ExplainBeforeAnyRunSaysWhatItCannotKnow()
        {
            var options = Options("FROM " + TestServices.Registry + "/keys-never-" + _id + "/x:1\n", r => r["DockerPath"] = "/nonexistent/docker");
            var log = new CapturingBuildLog();
            await new CacheEngine(options, log).ExplainAsync(Timeout());
            StringAssert.Contains(log.AllText, "platform: unknown");
            StringAssert.Contains(log.AllText, "not the key EnsureCachedImage would use");
            StringAssert.Contains(log.AllText, "base-image " + TestServices.Registry + "/keys-never-" + _id + "/x:1 unknown = unresolved [unresolved]");
            StringAssert.Contains(log.AllText, "no earlier key from this project");
            Assert.IsFalse(File.Exists(Path.Combine(_dir, "obj", "ecrcache", CacheEngine.KeyFileName)), "explain writes nothing");
        }

        // ---------------------------------------------------------------- layer cache

        private const string LayeredDockerfile = "FROM " + RealDocker.BaseImage + "\nRUN echo expensive-step > /expensive\nCOPY input.txt /input.txt\n";

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task LegacyBuilder_SecondMissPullsLatestAndReusesItsLayers()
        {
            RealDocker.Require();
            if (!File.Exists(LegacyDocker))
            {
                Assert.Inconclusive(LegacyDocker + " (a client without buildx, so the legacy builder) is not installed.");
            }

            var dockerfile = LayeredDockerfile.Replace("expensive-step", "expensive-" + _id, StringComparison.Ordinal);
            void Configure(RawOptions r)
            {
                r["DockerPath"] = LegacyDocker;
                r["Provider"] = "registry";
                r["Registry"] = TestServices.Registry;
                r["Repository"] = "keys-legacy-" + _id;
            }

            _localRepositories.Add(TestServices.Registry + "/keys-legacy-" + _id);
            var log1 = new CapturingBuildLog();
            var first = await new CacheEngine(Options(dockerfile, Configure), log1).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, first.Result, log1.AllText);
            StringAssert.Contains(log1.AllText, "legacy builder");

            // A fresh agent: nothing of this repository in the daemon (so no local layer cache either).
            RealDocker.RemoveRepository(TestServices.Registry + "/keys-legacy-" + _id);
            File.WriteAllText(Path.Combine(_dir, "input.txt"), "one line changed\n");
            var log2 = new CapturingBuildLog();
            var second = await new CacheEngine(Options(dockerfile, Configure), log2).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, second.Result, log2.AllText);
            var text = log2.AllText;
            StringAssert.Contains(text, "--cache-from " + TestServices.Registry + "/keys-legacy-" + _id + ":latest");
            var runStep = text.IndexOf("RUN echo expensive-" + _id, StringComparison.Ordinal);
            Assert.IsTrue(runStep > 0, text);
            StringAssert.Contains(text.Substring(runStep, Math.Min(400, text.Length - runStep)), "Using cache", "the RUN layer comes from the pulled latest");
            Assert.IsFalse(text.Contains("BUILDKIT_INLINE_CACHE", StringComparison.Ordinal), "inline cache is a BuildKit feature");
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task BuildKit_MissPushesInlineCacheAndTheNextMissImportsIt()
        {
            RealDocker.Require();
            var dockerfile = LayeredDockerfile.Replace("expensive-step", "expensive-" + _id, StringComparison.Ordinal);
            void Configure(RawOptions r)
            {
                r["Provider"] = "registry";
                r["Registry"] = TestServices.Registry;
                r["Repository"] = "keys-buildkit-" + _id;
            }

            _localRepositories.Add(TestServices.Registry + "/keys-buildkit-" + _id);
            var log1 = new CapturingBuildLog();
            var first = await new CacheEngine(Options(dockerfile, Configure), log1).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, first.Result, log1.AllText);
            StringAssert.Contains(log1.AllText, "--build-arg BUILDKIT_INLINE_CACHE");
            Assert.IsFalse(first.Key.Manifest.Entries.Any(e => e.Name == "BUILDKIT_INLINE_CACHE"), "the inline-cache arg is not an input");
            Assert.IsFalse(log1.AllText.Contains("--cache-from", StringComparison.Ordinal), "no latest yet, so no cache source");

            // The pushed image carries BuildKit's inline cache metadata in its config.
            using (var http = new HttpClient { BaseAddress = new Uri("http://" + TestServices.Registry + "/") })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "v2/keys-buildkit-" + _id + "/manifests/latest");
                request.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
                using var response = await http.SendAsync(request);
                using var manifest = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                var configDigest = manifest.RootElement.GetProperty("config").GetProperty("digest").GetString();
                var config = await http.GetStringAsync("v2/keys-buildkit-" + _id + "/blobs/" + configDigest);
                StringAssert.Contains(config, "moby.buildkit.cache.v0");
            }

            File.WriteAllText(Path.Combine(_dir, "input.txt"), "one line changed\n");
            var log2 = new CapturingBuildLog();
            var second = await new CacheEngine(Options(dockerfile, Configure), log2).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, second.Result, log2.AllText);
            var text = log2.AllText;
            StringAssert.Contains(text, "--cache-from " + TestServices.Registry + "/keys-buildkit-" + _id + ":latest");
            StringAssert.Contains(text, "importing cache manifest from " + TestServices.Registry + "/keys-buildkit-" + _id + ":latest");
            Assert.IsTrue(log2.Lines.Any(l => l.Contains("RUN echo expensive-" + _id, StringComparison.Ordinal)), text);
            Assert.IsTrue(log2.Lines.Any(l => l.EndsWith(" CACHED", StringComparison.Ordinal)), "unchanged layers are reused:\n" + text);
            Assert.AreEqual(0, log2.Errors.Count + log2.ToolErrors.Count, text);
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task LayerCacheOffBuildsWithoutCacheFromOrInlineCache()
        {
            RealDocker.Require();
            _localRepositories.Add(TestServices.Registry + "/keys-off-" + _id);
            void Configure(RawOptions r)
            {
                r["Provider"] = "registry";
                r["Registry"] = TestServices.Registry;
                r["Repository"] = "keys-off-" + _id;
                r["LayerCache"] = "false";
            }

            await new CacheEngine(Options(LayeredDockerfile, Configure), new CapturingBuildLog()).EnsureAsync(Timeout());
            File.WriteAllText(Path.Combine(_dir, "input.txt"), "changed\n");
            var log = new CapturingBuildLog();
            var result = await new CacheEngine(Options(LayeredDockerfile, Configure), log).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, result.Result);
            Assert.IsFalse(log.AllText.Contains("--cache-from", StringComparison.Ordinal), log.AllText);
            Assert.IsFalse(log.AllText.Contains("BUILDKIT_INLINE_CACHE", StringComparison.Ordinal), log.AllText);
        }
    }
}
