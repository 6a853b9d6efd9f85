using EcrCache.Http;
using EcrCache.Registries.Auth;
using static EcrCache.Http.HttpMessages;

namespace EcrCache.Registries.Oci
{
    /// <summary>The actions requested for repository scopes in bearer tokens.</summary>
    [Flags]
    internal enum RegistryAccess
    {
        Pull = 1,
        Push = 2,
    }

    /// <summary>
    /// A small client for the OCI distribution (v2) API: ping, manifest HEAD/GET/PUT and a small blob push, over one
    /// HttpClient pipeline: the shared retries, then <see cref="RegistryAuthenticationHandler"/> (anonymous first; on
    /// 401 Basic or Bearer per WWW-Authenticate, bearer tokens cached per realm, service and scope), then the
    /// transport. The parts: <see cref="RegistryHttp"/> (timeouts, redirects, bodies, the request log),
    /// <see cref="ManifestOperations"/> and <see cref="BlobOperations"/>. Safe for concurrent use.
    /// </summary>
    internal sealed class RegistryClient : IDisposable
    {
        /// <summary>The distribution registry refuses manifests over 4 MiB; so do we.</summary>
        public const int MaxManifestBytes = ManifestOperations.MaxManifestBytes;

        public static readonly TimeSpan DefaultTimeout = RegistryHttp.DefaultTimeout;

        private readonly RegistryAuthenticationHandler _auth;
        private readonly RegistryHttp _http;
        private readonly ManifestOperations _manifests;
        private readonly BlobOperations _blobs;
        private readonly RepositoryOperations _repositories;

        /// <param name="handler">The transport (tests pass fakes; the caller keeps owning it); null builds the standard one.</param>
        /// <param name="retry">How requests are retried; null for <see cref="HttpRetryPolicy.Default"/> (a registry mirror with a fallback behind it retries less).</param>
        public RegistryClient(RegistryEndpoint endpoint, IRegistryCredentialProvider credentials, IBuildLog log, HttpMessageHandler? handler = null, HttpRetryPolicy? retry = null)
        {
            Endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
            if (log == null)
            {
                throw new ArgumentNullException(nameof(log));
            }

            // Token requests go through the same pipeline as the registry's, so the handler sends them through _http.
            RegistryHttp? http = null;
            _auth = new RegistryAuthenticationHandler(endpoint, credentials, log, handler ?? HttpClients.CreateHandler(decompress: true), (request, ct) => http!.SendAsync(request, ct));
            http = new RegistryHttp(endpoint, log, _auth, retry, ownsTransport: handler == null);
            _http = http;
            _manifests = new ManifestOperations(_http);
            _blobs = new BlobOperations(_http);
            _repositories = new RepositoryOperations(_http);
        }

        public RegistryEndpoint Endpoint { get; }

        /// <summary>The limit for each HTTP request (token requests included); default 30 s.</summary>
        public TimeSpan Timeout
        {
            get => _http.Timeout;
            set => _http.Timeout = value;
        }

        /// <summary>
        /// The actions asked for in bearer-token repository scopes: <see cref="RegistryAccess.Pull"/> (default) or
        /// <c>Pull | Push</c> for callers that will push with the same token.
        /// </summary>
        public RegistryAccess Access
        {
            get => _auth.Access;
            set => _auth.Access = value;
        }

        /// <summary>
        /// <c>GET /v2/</c>: true when the registry answers 200 (after authenticating), false when it answers 404
        /// (not a v2 API; see <see cref="EnsureV2Async"/>). Throws RegistryUnreachable, RegistryAuthRefused or
        /// RegistryUnexpectedStatus otherwise.
        /// </summary>
        public async Task<bool> PingAsync(CancellationToken cancellationToken)
        {
            var response = await _http.SendAsync(HttpMethod.Get, "v2/", null, null, RegistryHttp.MaxErrorBodyBytes, cancellationToken).ConfigureAwait(false);
            if (response.Status == 200)
            {
                return true;
            }

            if (response.Status == 404)
            {
                return false;
            }

            throw _http.Unexpected(response, "GET /v2/");
        }

        /// <summary>Like <see cref="PingAsync"/>, but throws RegistryNotOciV2 (ECRC1306) when the answer is 404.</summary>
        public async Task EnsureV2Async(CancellationToken cancellationToken)
        {
            if (!await PingAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new EcrCacheException(DiagnosticIds.RegistryNotOciV2, Endpoint.Host, "GET " + Display(new Uri(Endpoint.BaseUri, "v2/")) + " answered HTTP 404");
            }
        }

        /// <summary>
        /// <c>HEAD /v2/&lt;repository&gt;/manifests/&lt;reference&gt;</c>: the manifest's digest, media type and size,
        /// or null when the registry answers 404 (no such tag or repository).
        /// </summary>
        public Task<ManifestInfo?> HeadManifestAsync(string repository, string reference, CancellationToken cancellationToken) =>
            _manifests.HeadAsync(repository, reference, cancellationToken);

        /// <summary>
        /// One <c>HEAD</c> of the manifest and nothing more: null on 404, else what the headers say, with an empty
        /// <see cref="ManifestInfo.Digest"/> when the registry sent no Docker-Content-Digest. Registries that count
        /// pulls (Docker Hub) count manifest GETs, not HEADs, so callers that only need the digest use this.
        /// </summary>
        public Task<ManifestInfo?> HeadManifestOnlyAsync(string repository, string reference, CancellationToken cancellationToken) =>
            _manifests.HeadOnlyAsync(repository, reference, cancellationToken);

        /// <summary>The diagnostic for a manifest that is not there (HEAD answered 404): ECRC1303 naming the request.</summary>
        public EcrCacheException NotFound(string repository, string reference) => _manifests.NotFound(repository, reference);

        /// <summary>
        /// <c>GET /v2/&lt;repository&gt;/manifests/&lt;reference&gt;</c>: the media type, the exact bytes and the digest
        /// (Docker-Content-Digest, else the sha256 of the bytes). A 404 throws RegistryUnexpectedStatus; when
        /// <paramref name="reference"/> is a sha256 digest the bytes are verified against it.
        /// </summary>
        public Task<(string mediaType, byte[] body, string? digest)> GetManifestAsync(string repository, string reference, CancellationToken cancellationToken) =>
            _manifests.GetAsync(repository, reference, cancellationToken);

        /// <summary><c>PUT /v2/&lt;repository&gt;/manifests/&lt;tag&gt;</c> with the exact bytes; returns the digest.</summary>
        public Task<string> PutManifestAsync(string repository, string tag, string mediaType, byte[] body, CancellationToken cancellationToken) =>
            _manifests.PutAsync(repository, tag, mediaType, body, cancellationToken);

        /// <summary>Uploads a small blob in one piece unless <c>HEAD</c> finds it already (<see cref="BlobOperations"/>).</summary>
        public Task PushBlobAsync(string repository, byte[] content, CancellationToken cancellationToken) =>
            _blobs.PushAsync(repository, content, cancellationToken);

        /// <summary><c>GET /v2/&lt;repository&gt;/tags/list</c>, every page: the repository's tags (none when it does not exist).</summary>
        public Task<IReadOnlyList<string>> ListTagsAsync(string repository, CancellationToken cancellationToken) =>
            _repositories.ListTagsAsync(repository, cancellationToken);

        /// <summary>The content of a small blob such as an image config (at most 4 MiB), verified against its digest.</summary>
        public Task<byte[]> GetBlobAsync(string repository, string digest, CancellationToken cancellationToken) =>
            _repositories.GetBlobAsync(repository, digest, cancellationToken);

        /// <summary><c>DELETE /v2/&lt;repository&gt;/manifests/&lt;digest&gt;</c>: removes the manifest and every tag on it.</summary>
        public Task<DeleteOutcome> DeleteManifestAsync(string repository, string digest, CancellationToken cancellationToken) =>
            _repositories.DeleteManifestAsync(repository, digest, cancellationToken);

        /// <summary>The sha256 digest of <paramref name="content"/>: <c>sha256:&lt;64 lower-case hex&gt;</c>.</summary>
        public static string ComputeDigest(byte[] content) => OciDigest.Compute(content);

        public void Dispose() => _http.Dispose();
    }
}
