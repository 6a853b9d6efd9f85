using EcrCache.Leases;
using EcrCache.Registries.Oci;

namespace EcrCache.Stores.Registry
{
    /// <summary>EcrCacheKeepCount, EcrCacheMaxAgeDays (as the user set it) and EcrCacheRegistryPruneGrace for the registry pruner.</summary>
    internal sealed record RegistryPruneSettings(int KeepCount, int MaxAgeDays, TimeSpan Grace);

    /// <summary>One tag of the repository as the pruner sees it.</summary>
    /// <param name="Created">When the image was created (its label, else its config), or null when unknown: never deleted then.</param>
    internal sealed record PruneCandidate(string Tag, string Digest, DateTime? Created);

    /// <summary>One manifest to delete: deleting it removes every tag on it, which are all listed here.</summary>
    internal sealed record PruneDeletion(string Digest, IReadOnlyList<string> Tags, string Reason);

    /// <summary>
    /// The registry provider's opt-in pruning (EcrCacheRegistryPrune): after a push, old key tags are deleted through the
    /// distribution API's manifest DELETE. Only key tags (24 hex digits) are ever candidates; latest, lease tags, the
    /// current key tag, the protected tags and every other name are kept, and so is every manifest any of them points at
    /// (a DELETE by digest removes all tags on the digest). A tag younger than the grace period, or whose age is
    /// unknown, is never deleted. A registry that refuses deletes gets one warning (ECRC1330); any other failure one
    /// warning (ECRC1331); the build goes on either way.
    /// </summary>
    internal static class RegistryPruner
    {
        /// <summary>The label EcrCache writes on every image it builds; the config's created is the fallback.</summary>
        public const string CreatedLabel = "org.opencontainers.image.created";

        /// <summary>
        /// What to delete. The newest <see cref="RegistryPruneSettings.KeepCount"/> key tags are kept (the current one
        /// among them when it is the newest); key tags beyond them, or older than MaxAgeDays, go, unless protected by
        /// name, by sharing a digest with a tag that stays, or by the grace period.
        /// </summary>
        public static IReadOnlyList<PruneDeletion> Select(IReadOnlyList<PruneCandidate> tags, string currentTag, IReadOnlyCollection<string> protectedTags, RegistryPruneSettings settings, DateTime now)
        {
            var keyTags = tags.Where(t => Retention.IsKeyTag(t.Tag)).ToList();
            var reasons = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var old in Retention.BeyondNewest(keyTags.Where(t => t.Created != null), settings.KeepCount, t => t.Created!.Value, t => t.Tag))
            {
                reasons[old.Tag] = "beyond the newest " + settings.KeepCount + ", EcrCacheKeepCount=" + settings.KeepCount;
            }

            if (settings.MaxAgeDays > 0)
            {
                foreach (var old in keyTags.Where(t => t.Created != null && now - t.Created!.Value > TimeSpan.FromDays(settings.MaxAgeDays)))
                {
                    reasons[old.Tag] = $"created {(now - old.Created!.Value).TotalDays:0.0} days ago, EcrCacheMaxAgeDays={settings.MaxAgeDays}";
                }
            }

            var doomed = new HashSet<string>(
                reasons.Keys.Where(tag =>
                {
                    var candidate = keyTags.First(t => t.Tag == tag);
                    return !IsProtected(tag, currentTag, protectedTags) && now - candidate.Created!.Value >= settings.Grace;
                }),
                StringComparer.Ordinal);

            var deletions = new List<PruneDeletion>();
            foreach (var group in tags.Where(t => t.Digest.Length > 0).GroupBy(t => t.Digest, StringComparer.Ordinal))
            {
                // A digest goes only when every tag on it goes: any tag that stays keeps the manifest.
                if (group.All(t => doomed.Contains(t.Tag)))
                {
                    var names = group.Select(t => t.Tag).OrderBy(t => t, StringComparer.Ordinal).ToList();
                    deletions.Add(new PruneDeletion(group.Key, names, reasons[names[0]]));
                }
            }

            return deletions.OrderBy(d => d.Tags[0], StringComparer.Ordinal).ToList();
        }

        /// <summary>Never deleted by name: latest, lease tags, the current key tag and the protected tags.</summary>
        internal static bool IsProtected(string tag, string currentTag, IReadOnlyCollection<string> protectedTags) =>
            tag == "latest"
            || tag == currentTag
            || tag.EndsWith(RegistryLeaseBackend.TagSuffix, StringComparison.Ordinal)
            || protectedTags.Contains(tag);

        /// <summary>Reads the repository's tags and their ages, deletes what <see cref="Select"/> picks, and logs it. Never throws but for cancellation.</summary>
        public static async Task PruneAsync(RegistryClient client, string repository, string currentTag, IReadOnlyCollection<string> protectedTags, RegistryPruneSettings settings, IBuildLog log, DateTime now, CancellationToken cancellationToken)
        {
            var where = client.Endpoint.Host + "/" + repository;
            try
            {
                var tags = await ReadTagsAsync(client, repository, cancellationToken).ConfigureAwait(false);
                var deletions = Select(tags, currentTag, protectedTags, settings, now);
                log.Detail($"Registry pruning of {where}: {tags.Count} tags, {deletions.Count} manifests to delete.");
                foreach (var deletion in deletions)
                {
                    var outcome = await client.DeleteManifestAsync(repository, deletion.Digest, cancellationToken).ConfigureAwait(false);
                    if (outcome == DeleteOutcome.Unsupported)
                    {
                        log.Warning(Diagnostic.Create(DiagnosticIds.RegistryDeleteUnsupported, client.Endpoint.Host, "DELETE /v2/" + repository + "/manifests/" + deletion.Digest + " was refused as unsupported", where));
                        return;
                    }

                    log.Info("Pruned " + where + "@" + deletion.Digest + " (tag " + string.Join(", ", deletion.Tags) + "; " + deletion.Reason + ")"
                        + (outcome == DeleteOutcome.NotFound ? ": it was gone already." : "."));
                }
            }
            catch (EcrCacheException ex)
            {
                log.Warning(Diagnostic.Create(DiagnosticIds.RegistryPruneFailed, where, ex.Diagnostic.ToString()));
            }
        }

        /// <summary>Every tag with its digest; key tags also with their age (one config read per distinct digest).</summary>
        private static async Task<IReadOnlyList<PruneCandidate>> ReadTagsAsync(RegistryClient client, string repository, CancellationToken cancellationToken)
        {
            var result = new List<PruneCandidate>();
            var ages = new Dictionary<string, DateTime?>(StringComparer.Ordinal);
            foreach (var tag in await client.ListTagsAsync(repository, cancellationToken).ConfigureAwait(false))
            {
                var head = await client.HeadManifestAsync(repository, tag, cancellationToken).ConfigureAwait(false);
                if (head == null)
                {
                    continue;
                }

                DateTime? created = null;
                if (Retention.IsKeyTag(tag) && !ages.TryGetValue(head.Digest, out created))
                {
                    var config = await ImageConfigs.ReadAsync(client, repository, head.Digest, cancellationToken).ConfigureAwait(false);
                    created = config == null ? null : ImageConfigs.ParseTime(config.Label(CreatedLabel)) ?? config.Created;
                    ages[head.Digest] = created;
                }

                result.Add(new PruneCandidate(tag, head.Digest, created));
            }

            return result;
        }
    }
}
