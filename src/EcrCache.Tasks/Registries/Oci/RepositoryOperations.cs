using System.Globalization;
using System.Text.Json;

namespace EcrCache.Registries.Oci
{
    /// <summary>What a manifest DELETE came to.</summary>
    internal enum DeleteOutcome
    {
        /// <summary>202: the manifest, and every tag on it, is gone.</summary>
        Deleted,

        /// <summary>404: it was gone already.</summary>
        NotFound,

        /// <summary>405, or the UNSUPPORTED error code: the registry does not delete (distribution without storage.delete.enabled).</summary>
        Unsupported,
    }

    /// <summary>
    /// The repository-wide endpoints the pruner and ExplainCachedImageKey use: the tag list
    /// (<c>GET /v2/&lt;name&gt;/tags/list</c>, paged with <c>n</c> and <c>last</c>), a small blob's content (an image
    /// config) and a manifest DELETE by digest.
    /// </summary>
    internal sealed class RepositoryOperations(RegistryHttp http)
    {
        /// <summary>Tags asked for per page of the tag list.</summary>
        public const int TagPageSize = 1000;

        /// <summary>An image config is a few KiB; a blob over this is not one.</summary>
        public const int MaxConfigBytes = 4 * 1024 * 1024;

        private readonly RegistryHttp _http = http;

        /// <summary>Every tag of <paramref name="repository"/> (none when the repository does not exist).</summary>
        public async Task<IReadOnlyList<string>> ListTagsAsync(string repository, CancellationToken cancellationToken)
        {
            Check(repository);
            var tags = new List<string>();
            string? last = null;
            while (true)
            {
                var path = "v2/" + repository + "/tags/list?n=" + TagPageSize.ToString(CultureInfo.InvariantCulture) + (last == null ? "" : "&last=" + Uri.EscapeDataString(last));
                var response = await _http.SendAsync(HttpMethod.Get, path, repository, null, MaxConfigBytes, cancellationToken).ConfigureAwait(false);
                if (response.Status == 404)
                {
                    return tags;
                }

                if (response.Status != 200 || response.BodyTruncated)
                {
                    throw _http.Unexpected(response, "GET /v2/" + repository + "/tags/list");
                }

                var page = ParseTags(response.Body ?? new byte[0]);
                var added = page.Where(t => !tags.Contains(t)).ToList();
                tags.AddRange(added);
                if (page.Count < TagPageSize || added.Count == 0)
                {
                    return tags;
                }

                last = page[page.Count - 1];
            }
        }

        /// <summary>The content of a small blob (an image config), verified against <paramref name="digest"/>.</summary>
        public async Task<byte[]> GetBlobAsync(string repository, string digest, CancellationToken cancellationToken)
        {
            Check(repository);
            if (!OciDigest.IsValid(digest))
            {
                throw new ArgumentException("'" + digest + "' is not a digest.", nameof(digest));
            }

            var path = "v2/" + repository + "/blobs/" + digest;
            var response = await _http.SendAsync(HttpMethod.Get, path, repository, null, MaxConfigBytes, cancellationToken).ConfigureAwait(false);
            if (response.Status != 200 || response.BodyTruncated)
            {
                throw _http.Unexpected(response, "GET /" + path);
            }

            var body = response.Body ?? new byte[0];
            if (digest.StartsWith(OciDigest.Sha256Prefix, StringComparison.Ordinal) && !string.Equals(OciDigest.Compute(body), digest, StringComparison.Ordinal))
            {
                throw new EcrCacheException(DiagnosticIds.RegistryUnexpectedStatus, _http.Host, 200, "GET /" + path, "The blob's content does not hash to its digest.");
            }

            return body;
        }

        /// <summary><c>DELETE /v2/&lt;name&gt;/manifests/&lt;digest&gt;</c>; other failures throw ECRC1303.</summary>
        public async Task<DeleteOutcome> DeleteManifestAsync(string repository, string digest, CancellationToken cancellationToken)
        {
            Check(repository);
            if (!OciDigest.IsValid(digest))
            {
                throw new ArgumentException("A manifest is deleted by its digest, not by '" + digest + "'.", nameof(digest));
            }

            var path = "v2/" + repository + "/manifests/" + digest;
            var response = await _http.SendAsync(HttpMethod.Delete, path, repository, null, RegistryHttp.MaxErrorBodyBytes, cancellationToken).ConfigureAwait(false);
            if (response.Status == 202 || response.Status == 200 || response.Status == 204)
            {
                return DeleteOutcome.Deleted;
            }

            var detail = response.ErrorDetail() ?? string.Empty;
            if (response.Status == 405 || detail.IndexOf("UNSUPPORTED", StringComparison.Ordinal) >= 0)
            {
                return DeleteOutcome.Unsupported;
            }

            if (response.Status == 404)
            {
                return DeleteOutcome.NotFound;
            }

            throw _http.Unexpected(response, "DELETE /" + path);
        }

        internal static IReadOnlyList<string> ParseTags(byte[] body)
        {
            try
            {
                using var document = JsonDocument.Parse(body);
                if (document.RootElement.ValueKind == JsonValueKind.Object
                    && document.RootElement.TryGetProperty("tags", out var tags) && tags.ValueKind == JsonValueKind.Array)
                {
                    return tags.EnumerateArray().Where(t => t.ValueKind == JsonValueKind.String).Select(t => t.GetString()!).ToList();
                }

                return new List<string>();
            }
            catch (JsonException)
            {
                return new List<string>();
            }
        }

        private static void Check(string repository)
        {
            if (!OciNames.IsRepository(repository))
            {
                throw new EcrCacheException(DiagnosticIds.BadRepositoryName, repository);
            }
        }
    }
}
