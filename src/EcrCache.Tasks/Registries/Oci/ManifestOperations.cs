using System.Globalization;
using System.Net.Http.Headers;

namespace EcrCache.Registries.Oci
{
    /// <summary>
    /// The manifest endpoints of the distribution (v2) API: HEAD, GET (size-limited, verified against a digest
    /// reference) and PUT of <c>/v2/&lt;repository&gt;/manifests/&lt;reference&gt;</c>. Names are checked before any
    /// request (<see cref="OciNames"/>, <see cref="OciDigest"/>).
    /// </summary>
    internal sealed class ManifestOperations(RegistryHttp http)
    {
        /// <summary>The distribution registry refuses manifests over 4 MiB; so do we.</summary>
        public const int MaxManifestBytes = 4 * 1024 * 1024;

        private readonly RegistryHttp _http = http;

        /// <summary>The manifest's digest, media type and size, or null on 404; GETs only when HEAD gives no digest.</summary>
        public async Task<ManifestInfo?> HeadAsync(string repository, string reference, CancellationToken cancellationToken)
        {
            var head = await HeadOnlyAsync(repository, reference, cancellationToken).ConfigureAwait(false);
            if (head == null || head.Digest.Length > 0)
            {
                return head;
            }

            // Docker-Content-Digest is optional on HEAD; fall back to fetching the manifest and hashing it.
            var (mediaType, body, digest) = await GetAsync(repository, reference, cancellationToken).ConfigureAwait(false);
            return new ManifestInfo(digest ?? OciDigest.Compute(body), mediaType, body.LongLength);
        }

        /// <summary>One HEAD: null on 404, else what the headers say (an empty digest when the registry sent none).</summary>
        public async Task<ManifestInfo?> HeadOnlyAsync(string repository, string reference, CancellationToken cancellationToken)
        {
            var path = Path(repository, reference);
            var response = await _http.SendAsync(HttpMethod.Head, path, repository, ManifestMediaTypes.Accept, 0, cancellationToken).ConfigureAwait(false);
            if (response.Status == 404)
            {
                return null;
            }

            if (response.Status != 200)
            {
                throw _http.Unexpected(response, "HEAD /" + path);
            }

            return new ManifestInfo(response.Digest ?? string.Empty, response.ContentType ?? string.Empty, response.ContentLength ?? -1);
        }

        /// <summary>ECRC1303 naming the HEAD that answered 404.</summary>
        public EcrCacheException NotFound(string repository, string reference) =>
            new EcrCacheException(DiagnosticIds.RegistryUnexpectedStatus, _http.Host, 404, "HEAD /" + Path(repository, reference), "The repository or tag does not exist there.");

        /// <summary>The media type, the exact bytes and the digest (Docker-Content-Digest, else the sha256 of the bytes).</summary>
        public async Task<(string mediaType, byte[] body, string? digest)> GetAsync(string repository, string reference, CancellationToken cancellationToken)
        {
            var path = Path(repository, reference);
            var operation = "GET /" + path;
            var response = await _http.SendAsync(HttpMethod.Get, path, repository, ManifestMediaTypes.Accept, MaxManifestBytes, cancellationToken).ConfigureAwait(false);
            if (response.Status != 200)
            {
                throw _http.Unexpected(response, operation);
            }

            if (response.BodyTruncated)
            {
                throw new EcrCacheException(
                    DiagnosticIds.RegistryUnexpectedStatus,
                    _http.Host,
                    200,
                    operation,
                    "The manifest is larger than " + (MaxManifestBytes / (1024 * 1024)).ToString(CultureInfo.InvariantCulture) + " MiB.");
            }

            var body = response.Body ?? new byte[0];
            var mediaType = response.ContentType ?? string.Empty;
            var computed = OciDigest.Compute(body);

            // A schema-1 manifest's digest is of its payload without the signatures, so its bytes do not hash to it.
            var isSchema1 = mediaType.StartsWith("application/vnd.docker.distribution.manifest.v1", StringComparison.OrdinalIgnoreCase);
            if (!isSchema1 && reference.StartsWith(OciDigest.Sha256Prefix, StringComparison.Ordinal) && !string.Equals(reference, computed, StringComparison.Ordinal))
            {
                throw new EcrCacheException(
                    DiagnosticIds.RegistryUnexpectedStatus,
                    _http.Host,
                    200,
                    operation,
                    "The manifest's content hashes to " + computed + ", not to the digest asked for.");
            }

            return (mediaType, body, string.IsNullOrEmpty(response.Digest) ? computed : response.Digest);
        }

        /// <summary>PUT with the exact bytes; returns the digest the registry gives (else the sha256 of the bytes).</summary>
        public async Task<string> PutAsync(string repository, string tag, string mediaType, byte[] body, CancellationToken cancellationToken)
        {
            var path = Path(repository, tag);
            var response = await _http.SendAsync(HttpMethod.Put, path, repository, null, RegistryHttp.MaxErrorBodyBytes, cancellationToken, () =>
            {
                var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
                return content;
            }).ConfigureAwait(false);
            if (response.Status != 201 && response.Status != 200)
            {
                throw _http.Unexpected(response, "PUT /" + path);
            }

            return string.IsNullOrEmpty(response.Digest) ? OciDigest.Compute(body) : response.Digest!;
        }

        private static string Path(string repository, string reference)
        {
            if (repository == null)
            {
                throw new ArgumentNullException(nameof(repository));
            }

            if (reference == null)
            {
                throw new ArgumentNullException(nameof(reference));
            }

            if (!OciNames.IsRepository(repository))
            {
                throw new EcrCacheException(DiagnosticIds.BadRepositoryName, repository);
            }

            if (!OciNames.IsReference(reference))
            {
                throw new ArgumentException("'" + reference + "' is neither a tag nor a digest.", nameof(reference));
            }

            return "v2/" + repository + "/manifests/" + reference;
        }
    }
}
