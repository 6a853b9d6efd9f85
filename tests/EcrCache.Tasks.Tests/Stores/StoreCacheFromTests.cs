using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using EcrCache.Docker;
using EcrCache.Processes;
using EcrCache.Registries.Auth;
using EcrCache.Stores.Ecr;
using EcrCache.Stores.Registry;
using EcrCache.Stores.Local;
using EcrCache.Registries.Oci;
using EcrCache.Tasks.Tests.Core;
using EcrCache.Tasks.Tests.Stores.Ecr;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Stores
{
    /// <summary>IImageStore.PrepareCacheFromAsync of each store against the real open registry (and moto for ECR).</summary>
    [TestClass]
    public sealed class StoreCacheFromTests
    {
        private readonly List<string> _local = new List<string>();

        [TestCleanup]
        public void TearDown()
        {
            foreach (var repository in _local)
            {
                RealDocker.RemoveRepository(repository);
            }
        }

        private string PushLatest(string repository, string tag = "latest")
        {
            var reference = TestServices.Registry + "/" + repository + ":" + tag;
            _local.Add(TestServices.Registry + "/" + repository);
            Assert.AreEqual(0, RealDocker.Run("tag", RealDocker.BaseImage, reference).ExitCode);
            var push = RealDocker.Run("push", reference);
            Assert.AreEqual(0, push.ExitCode, push.StandardError);
            return reference;
        }

        private static DockerCli Docker() => new DockerCli(RealDocker.Executable, ProcessRunner.Instance, new RecordingLog());

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task RegistryStore_ReturnsTheRemoteTagOnlyWhenItExists()
        {
            RealDocker.Require();
            var repository = "keys-cachefrom-" + Guid.NewGuid().ToString("N").Substring(0, 12);
            using var store = new OciRegistryStore(RegistryEndpoint.Parse(TestServices.Registry), repository, Docker(), new DockerConfigCredentialProvider(DockerConfig.LoadFile("/nonexistent/config.json"), ProcessRunner.Instance), new RecordingLog());
            Assert.IsNull(await store.PrepareCacheFromAsync(null, CancellationToken.None), "no latest yet");
            var latest = PushLatest(repository);
            Assert.AreEqual(latest, await store.PrepareCacheFromAsync(null, CancellationToken.None));
            Assert.IsNull(await store.PrepareCacheFromAsync("main", CancellationToken.None));
            Assert.AreEqual(PushLatest(repository, "main"), await store.PrepareCacheFromAsync("main", CancellationToken.None));
        }

        [TestMethod]
        public async Task LocalStore_HasNoCacheSource_TheDaemonsBuildCacheIsIt()
        {
            using var store = new LocalDaemonStore("build-cache/whatever", Docker());
            Assert.IsNull(await store.PrepareCacheFromAsync(null, CancellationToken.None));
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        [TestCategory(Categories.Moto)]
        public async Task EcrStore_LogsInAndReturnsTheRemoteTagOnlyWhenItExists()
        {
            RealDocker.Require();
            var endpoint = Moto.Endpoint;
            var repository = Moto.UniqueRepository("keys/cachefrom");
            var home = TestPaths.NewTempDirectory("ecrcache-keys-home");
            var options = new EcrStoreOptions
            {
                Repository = repository,
                RegistryOverride = TestServices.Registry,
                Environment = Moto.Environment(endpoint, new Dictionary<string, string> { ["HOME"] = home }),
                PrivateConfigParent = TestPaths.NewTempDirectory("ecrcache-keys-private"),
            };
            var log = new RecordingLog();
            using var store = await EcrStore.CreateAsync(Moto.Client(endpoint, "us-east-2", log), options, Docker(), ProcessRunner.Instance, log, CancellationToken.None);
            Assert.IsNull(await store.PrepareCacheFromAsync(null, CancellationToken.None));
            Assert.IsTrue(store.LoggedIn, "preparing the cache source logs docker in first (the legacy builder pulls it)");
            var latest = PushLatest(repository);
            Assert.AreEqual(latest, await store.PrepareCacheFromAsync(null, CancellationToken.None));
        }
    
        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task RegistryStore_FullReferencesInItsRegistryAreLookedUp_OthersPassUnchecked()
        {
            RealDocker.Require();
            var repository = "keys-cachefrom-" + Guid.NewGuid().ToString("N").Substring(0, 12);
            var other = repository + "-other";
            using var store = new OciRegistryStore(RegistryEndpoint.Parse(TestServices.Registry), repository, Docker(), new DockerConfigCredentialProvider(DockerConfig.LoadFile("/nonexistent/config.json"), ProcessRunner.Instance), new RecordingLog());
            var otherReference = TestServices.Registry + "/" + other + ":main";
            Assert.IsNull(await store.PrepareCacheFromAsync(otherReference, CancellationToken.None), "not pushed yet: skipped");
            Assert.AreEqual(PushLatest(other, "main"), await store.PrepareCacheFromAsync(otherReference, CancellationToken.None));
            Assert.AreEqual("registry.example.invalid/team/app:main", await store.PrepareCacheFromAsync("registry.example.invalid/team/app:main", CancellationToken.None), "another registry: docker build decides");
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [TestCategory(Categories.Registry)]
        public async Task RegistryStore_TagAsyncPointsExtraTagsAtTheSameDigestWithoutDocker()
        {
            RealDocker.Require();
            var repository = "keys-tags-" + Guid.NewGuid().ToString("N").Substring(0, 12);
            PushLatest(repository, "key0123");
            var log = new RecordingLog();
            using var store = new OciRegistryStore(RegistryEndpoint.Parse(TestServices.Registry), repository, Docker(), new DockerConfigCredentialProvider(DockerConfig.LoadFile("/nonexistent/config.json"), ProcessRunner.Instance), log);
            await store.TagAsync("key0123", new[] { "branch-a", "stable" }, CancellationToken.None);
            await store.TagAsync("key0123", new[] { "branch-a" }, CancellationToken.None);

            using var client = new RegistryClient(RegistryEndpoint.Parse(TestServices.Registry), new DockerConfigCredentialProvider(DockerConfig.LoadFile("/nonexistent/config.json"), ProcessRunner.Instance), new RecordingLog());
            var digest = (await client.HeadManifestAsync(repository, "key0123", CancellationToken.None))!.Digest;
            Assert.AreEqual(digest, (await client.HeadManifestAsync(repository, "branch-a", CancellationToken.None))?.Digest);
            Assert.AreEqual(digest, (await client.HeadManifestAsync(repository, "stable", CancellationToken.None))?.Digest);
            await Assert.ThrowsExactlyAsync<EcrCache.Diagnostics.EcrCacheException>(() => store.TagAsync("missing-key", new[] { "branch-b" }, CancellationToken.None));
        }
    }
}
