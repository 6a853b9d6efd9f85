using System.Globalization;
using System.Text.Json;

namespace EcrCache.Registries.Oci
{
    /// <summary>What an image config says about the image: when it was created, and its labels.</summary>
    /// <param name="Created">The config's <c>created</c> (UTC), or null when it has none that parses.</param>
    internal sealed record ImageConfigInfo(string ManifestDigest, DateTime? Created, IReadOnlyDictionary<string, string> Labels)
    {
        /// <summary>The label <paramref name="name"/>, or null.</summary>
        public string? Label(string name) => Labels.TryGetValue(name, out var value) ? value : null;
    }

    /// <summary>
    /// Reads an image's config from a registry without its layers: the manifest (for an index, the first image manifest
    /// of a real platform, as the labels are the same for every platform), then the config blob.
    /// </summary>
    internal static class ImageConfigs
    {
        /// <summary>The config of <paramref name="reference"/> (a tag or digest), or null when the registry has no such manifest.</summary>
        public static async Task<ImageConfigInfo?> ReadAsync(RegistryClient client, string repository, string reference, CancellationToken cancellationToken)
        {
            var head = await client.HeadManifestAsync(repository, reference, cancellationToken).ConfigureAwait(false);
            if (head == null)
            {
                return null;
            }

            var (mediaType, body, digest) = await client.GetManifestAsync(repository, head.Digest.Length > 0 ? head.Digest : reference, cancellationToken).ConfigureAwait(false);
            var manifestDigest = head.Digest.Length > 0 ? head.Digest : digest ?? OciDigest.Compute(body);
            if (ManifestMediaTypes.IsIndex(mediaType) || IsIndexDocument(body))
            {
                var child = FirstImageManifest(body);
                if (child == null)
                {
                    return new ImageConfigInfo(manifestDigest, null, new Dictionary<string, string>());
                }

                (_, body, _) = await client.GetManifestAsync(repository, child, cancellationToken).ConfigureAwait(false);
            }

            var config = ConfigDigest(body);
            if (config == null)
            {
                return new ImageConfigInfo(manifestDigest, null, new Dictionary<string, string>());
            }

            var blob = await client.GetBlobAsync(repository, config, cancellationToken).ConfigureAwait(false);
            var (created, labels) = ParseConfig(blob);
            return new ImageConfigInfo(manifestDigest, created, labels);
        }

        /// <summary>The <c>created</c> time and <c>config.Labels</c> of an image config; unparsable parts are null or empty.</summary>
        internal static (DateTime? Created, IReadOnlyDictionary<string, string> Labels) ParseConfig(byte[] config)
        {
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            DateTime? created = null;
            try
            {
                using var document = JsonDocument.Parse(config);
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    return (null, labels);
                }

                if (root.TryGetProperty("created", out var c) && c.ValueKind == JsonValueKind.String)
                {
                    created = ParseTime(c.GetString());
                }

                if (root.TryGetProperty("config", out var inner) && inner.ValueKind == JsonValueKind.Object
                    && inner.TryGetProperty("Labels", out var l) && l.ValueKind == JsonValueKind.Object)
                {
                    foreach (var pair in l.EnumerateObject())
                    {
                        if (pair.Value.ValueKind == JsonValueKind.String)
                        {
                            labels[pair.Name] = pair.Value.GetString()!;
                        }
                    }
                }
            }
            catch (JsonException)
            {
            }

            return (created, labels);
        }

        /// <summary>An RFC 3339 time as UTC, or null.</summary>
        internal static DateTime? ParseTime(string? text) =>
            !string.IsNullOrWhiteSpace(text) && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
                ? time.UtcDateTime
                : (DateTime?)null;

        private static bool IsIndexDocument(byte[] body)
        {
            try
            {
                using var document = JsonDocument.Parse(body);
                return document.RootElement.ValueKind == JsonValueKind.Object
                    && document.RootElement.TryGetProperty("manifests", out var m) && m.ValueKind == JsonValueKind.Array
                    && !document.RootElement.TryGetProperty("config", out _);
            }
            catch (JsonException)
            {
                return false;
            }
        }

        private static string? FirstImageManifest(byte[] index)
        {
            using var document = JsonDocument.Parse(index);
            foreach (var entry in document.RootElement.GetProperty("manifests").EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("digest", out var d) || d.ValueKind != JsonValueKind.String)
                {
                    continue;
                }

                // BuildKit's attestation manifests carry platform unknown/unknown.
                var os = entry.TryGetProperty("platform", out var p) && p.ValueKind == JsonValueKind.Object && p.TryGetProperty("os", out var o) ? o.GetString() : null;
                if (os != "unknown")
                {
                    return d.GetString();
                }
            }

            return null;
        }

        private static string? ConfigDigest(byte[] manifest)
        {
            try
            {
                using var document = JsonDocument.Parse(manifest);
                return document.RootElement.ValueKind == JsonValueKind.Object
                    && document.RootElement.TryGetProperty("config", out var config) && config.ValueKind == JsonValueKind.Object
                    && config.TryGetProperty("digest", out var digest) && digest.ValueKind == JsonValueKind.String
                    && OciDigest.IsValid(digest.GetString())
                    ? digest.GetString()
                    : null;
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }
}
