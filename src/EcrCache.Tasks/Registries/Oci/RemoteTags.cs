namespace EcrCache.Registries.Oci
{
    /// <summary>
    /// Points more tags at an image that is already in a registry, through the manifest API alone: one GET of the
    /// source tag's manifest, then per tag a HEAD and, when it names another digest, a PUT of the same bytes. No layer
    /// moves and the digest is the same by construction (a manifest list stays a list).
    /// </summary>
    internal static class RemoteTags
    {
        public static async Task PointAsync(RegistryClient client, string repository, string image, string sourceTag, IReadOnlyList<string> tags, string storeDescription, IBuildLog log, CancellationToken cancellationToken)
        {
            var current = "";
            try
            {
                var (mediaType, body, digest) = await client.GetManifestAsync(repository, sourceTag, cancellationToken).ConfigureAwait(false);
                foreach (var tag in tags.Where(t => !string.Equals(t, sourceTag, StringComparison.Ordinal)))
                {
                    current = tag;
                    var existing = await client.HeadManifestOnlyAsync(repository, tag, cancellationToken).ConfigureAwait(false);
                    if (existing != null && string.Equals(existing.Digest, digest, StringComparison.Ordinal))
                    {
                        log.Detail(image + ":" + tag + " already points at " + digest + ".");
                        continue;
                    }

                    await client.PutManifestAsync(repository, tag, mediaType, body, cancellationToken).ConfigureAwait(false);
                    log.Info("Tagged " + image + ":" + tag + " (" + digest + ", the manifest of " + sourceTag + "; no layers pulled or pushed).");
                }
            }
            catch (EcrCacheException ex)
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.ImageTagFailed, current.Length > 0 ? current : string.Join(", ", tags), image + ":" + sourceTag, storeDescription, ex.Diagnostic.ToString()), ex);
            }
        }
    }
}
