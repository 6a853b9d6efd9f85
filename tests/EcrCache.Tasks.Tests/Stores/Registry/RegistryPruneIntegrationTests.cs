using System.Text;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;
using EcrCache.Stores.Registry;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Stores.Registry
{
    /// <summary>
    /// EcrCacheRegistryPrune against the real docker-registry of build/start-services.sh (storage.delete.enabled):
    /// tiny images (a config with its created time, no layers) pushed under key tags, latest, a lease, a protected tag
    /// and a tag of someone else's, then pruned; the tag list is read back from the registry.
    /// </summary>
    [TestClass]
    [TestCategory(Categories.Registry)]
    public sealed class RegistryPruneIntegrationTests
    {
        private static readonly DateTime Now = DateTime.UtcNow;

        private static string Key(int n) => n.ToString("x24");

        private static async Task<string> PushAsync(RegistryClient client, string repository, string tag, DateTime created, string salt = "")
        {
            var config = Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"" + created.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'") + "\","
                + "\"config\":{\"Labels\":{\"io.ecrcache.test\":\"" + salt + tag + "\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
            await client.PushBlobAsync(repository, config, CancellationToken.None);
            var manifest = Encoding.UTF8.GetBytes("{\"schemaVersion\":2,\"mediaType\":\"" + ManifestMediaTypes.OciManifest + "\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\""
                + OciDigest.Compute(config) + "\",\"size\":" + config.Length + "},\"layers\":[]}");
            return await client.PutManifestAsync(repository, tag, ManifestMediaTypes.OciManifest, manifest, CancellationToken.None);
        }

        private static async Task TagAsync(RegistryClient client, string repository, string existing, string tag)
        {
            var (mediaType, body, _) = await client.GetManifestAsync(repository, existing, CancellationToken.None);
            await client.PutManifestAsync(repository, tag, mediaType, body, CancellationToken.None);
        }

        [TestMethod]
        public async Task Prune_LeavesTheProtectedTagsAndTheNewestN_RespectingTheGracePeriod()
        {
            var host = TestServices.Registry;
            var repository = "ecrcache-test/prune-" + Guid.NewGuid().ToString("N").Substring(0, 10);
            var log = new RecordingLog();
            using var client = new RegistryClient(RegistryEndpoint.Parse(host), StaticCredentialProvider.Anonymous, log) { Access = RegistryAccess.Pull | RegistryAccess.Push };

            for (var i = 1; i <= 5; i++)
            {
                await PushAsync(client, repository, Key(i), Now.AddDays(-10 + i));       // keys 1-5: 9 to 5 days old
            }

            await PushAsync(client, repository, Key(6), Now.AddHours(-2));               // the current key
            await PushAsync(client, repository, Key(7), Now.AddMinutes(-10));            // pushed by a build a moment ago
            await TagAsync(client, repository, Key(1), "latest");                         // latest on the oldest key's manifest
            await PushAsync(client, repository, "release-1", Now.AddDays(-30));
            await TagAsync(client, repository, "release-1", Key(2));                      // key 2 now shares the protected manifest
            await PushAsync(client, repository, Key(3) + "-lease", Now.AddDays(-8));
            await PushAsync(client, repository, "manual", Now.AddDays(-40));

            // KeepCount 3: keys 7, 6 and 5 are the newest. 4 and 3 go; 1 and 2 stay with the manifests latest and
            // release-1 point at. The grace period (3 h) spares the 2 h old current key anyway.
            await RegistryPruner.PruneAsync(client, repository, Key(6), new[] { "release-1" }, new RegistryPruneSettings(3, 0, TimeSpan.FromHours(3)), log, Now, CancellationToken.None);
            var tags = (await client.ListTagsAsync(repository, CancellationToken.None)).OrderBy(t => t, StringComparer.Ordinal).ToArray();
            var expected = new[] { Key(1), Key(2), Key(3) + "-lease", Key(5), Key(6), Key(7), "latest", "manual", "release-1" }.OrderBy(t => t, StringComparer.Ordinal).ToArray();
            CollectionAssert.AreEqual(expected, tags, log.All);
            Assert.IsFalse(log.Lines.Any(l => l.StartsWith("warning:", StringComparison.Ordinal)), log.All);
            StringAssert.Contains(log.All, "Pruned " + host + "/" + repository + "@");

            // KeepCount 1 as another build whose key is 5: key 7 is the newest, key 6 is younger than a 3 h grace.
            await RegistryPruner.PruneAsync(client, repository, Key(5), new[] { "release-1" }, new RegistryPruneSettings(1, 0, TimeSpan.FromHours(3)), log, Now, CancellationToken.None);
            CollectionAssert.AreEqual(expected, (await client.ListTagsAsync(repository, CancellationToken.None)).OrderBy(t => t, StringComparer.Ordinal).ToArray(), "nothing more may go");

            // With a 1 h grace the 2 h old key 6 is old enough.
            await RegistryPruner.PruneAsync(client, repository, Key(5), new[] { "release-1" }, new RegistryPruneSettings(1, 0, TimeSpan.FromHours(1)), log, Now, CancellationToken.None);
            CollectionAssert.AreEqual(expected.Where(t => t != Key(6)).ToArray(), (await client.ListTagsAsync(repository, CancellationToken.None)).OrderBy(t => t, StringComparer.Ordinal).ToArray());
            Assert.IsNull(await client.HeadManifestAsync(repository, Key(6), CancellationToken.None), "the manifest is gone, not only the tag");
        }
    }
}
