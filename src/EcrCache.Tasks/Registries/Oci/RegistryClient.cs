using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EcrCache.Diagnostics;
using EcrCache.Http;
using EcrCache.Logging;
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
    /// A small client for the OCI distribution (v2) API: manifest HEAD/GET and ping, with the registry auth handshake
    /// (anonymous first; on 401, Basic or Bearer per WWW-Authenticate, with bearer tokens from the realm cached per
    /// scope until they expire). Credentials are only sent over https, or to loopback or explicitly insecure hosts;
    /// they are dropped on a redirect to another origin and an https-to-http redirect is refused. Each request is
    /// logged at detail level as <c>HEAD https://host/v2/repo/manifests/tag -> 200 (12 ms)</c>, never with headers.
    /// Safe for concurrent use.
    /// </summary>
    internal sealed class RegistryClient : IDisposable
    {
        /// <summary>The distribution registry refuses manifests over 4 MiB; so do we.</summary>
        public const int MaxManifestBytes = 4 * 1024 * 1024;

        public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

        private const int MaxErrorBodyBytes = 64 * 1024;
        private const int MaxTokenBodyBytes = 1024 * 1024;
        private const int MaxRedirects = 5;
        private static readonly TimeSpan MinTokenLifetime = TimeSpan.FromSeconds(60);

        private readonly IRegistryCredentialProvider _credentials;
        private readonly IBuildLog _log;
        private readonly HttpClient _http;
        private readonly object _gate = new object();
        private readonly Dictionary<string, CachedToken> _tokens = new Dictionary<string, CachedToken>(StringComparer.Ordinal);
        private Task<RegistryCredential?>? _credentialTask;
        private AuthenticationChallenge? _challenge;
        private TimeSpan _timeout = DefaultTimeout;
        private bool _disposed;

        /// <param name="retry">How requests are retried; null for <see cref="HttpRetryPolicy.Default"/> (a registry mirror with a fallback behind it retries less).</param>
        public RegistryClient(RegistryEndpoint endpoint, IRegistryCredentialProvider credentials, IBuildLog log, HttpMessageHandler? handler = null, HttpRetryPolicy? retry = null)
        {
            Endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
            _credentials = credentials ?? throw new ArgumentNullException(nameof(credentials));
            _log = log ?? throw new ArgumentNullException(nameof(log));
            _http = HttpClients.Create(handler, decompress: true, retry: retry, onRetry: message => _log.Info("Registry " + message));
        }

        public RegistryEndpoint Endpoint { get; }

        /// <summary>The limit for each HTTP request (token requests included); default 30 s.</summary>
        public TimeSpan Timeout
        {
            get => _timeout;
            set
            {
                if (value <= TimeSpan.Zero && value != System.Threading.Timeout.InfiniteTimeSpan)
                {
                    throw new ArgumentOutOfRangeException(nameof(value), "The timeout must be positive or infinite.");
                }

                _timeout = value;
            }
        }

        /// <summary>
        /// The actions asked for in bearer-token repository scopes: <see cref="RegistryAccess.Pull"/> (default) or
        /// <c>Pull | Push</c> for callers that will push with the same token.
        /// </summary>
        public RegistryAccess Access { get; set; } = RegistryAccess.Pull;

        /// <summary>
        /// <c>GET /v2/</c>: true when the registry answers 200 (after authenticating), false when it answers 404
        /// (not a v2 API; see <see cref="EnsureV2Async"/>). Throws RegistryUnreachable, RegistryAuthRefused or
        /// RegistryUnexpectedStatus otherwise.
        /// </summary>
        public async Task<bool> PingAsync(CancellationToken cancellationToken)
        {
            var response = await SendAsync(HttpMethod.Get, "v2/", null, null, MaxErrorBodyBytes, cancellationToken).ConfigureAwait(false);
            if (response.Status == 200)
            {
                return true;
            }

            if (response.Status == 404)
            {
                return false;
            }

            throw Unexpected(response, "GET /v2/");
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
        public async Task<ManifestInfo?> HeadManifestAsync(string repository, string reference, CancellationToken cancellationToken)
        {
            var head = await HeadManifestOnlyAsync(repository, reference, cancellationToken).ConfigureAwait(false);
            if (head == null || head.Digest.Length > 0)
            {
                return head;
            }

            // Docker-Content-Digest is optional on HEAD; fall back to fetching the manifest and hashing it.
            var (mediaType, body, digest) = await GetManifestAsync(repository, reference, cancellationToken).ConfigureAwait(false);
            return new ManifestInfo(digest ?? ComputeDigest(body), mediaType, body.LongLength);
        }

        /// <summary>
        /// One <c>HEAD</c> of the manifest and nothing more: null on 404, else what the headers say, with an empty
        /// <see cref="ManifestInfo.Digest"/> when the registry sent no Docker-Content-Digest. Registries that count
        /// pulls (Docker Hub) count manifest GETs, not HEADs, so callers that only need the digest use this.
        /// </summary>
        public async Task<ManifestInfo?> HeadManifestOnlyAsync(string repository, string reference, CancellationToken cancellationToken)
        {
            var path = ManifestPath(repository, reference);
            var response = await SendAsync(HttpMethod.Head, path, repository, ManifestMediaTypes.Accept, 0, cancellationToken).ConfigureAwait(false);
            if (response.Status == 404)
            {
                return null;
            }

            if (response.Status != 200)
            {
                throw Unexpected(response, "HEAD /" + path);
            }

            return new ManifestInfo(response.Digest ?? string.Empty, response.ContentType ?? string.Empty, response.ContentLength ?? -1);
        }

        /// <summary>The diagnostic for a manifest that is not there (HEAD answered 404): ECRC1303 naming the request.</summary>
        public EcrCacheException NotFound(string repository, string reference) =>
            new EcrCacheException(DiagnosticIds.RegistryUnexpectedStatus, Endpoint.Host, 404, "HEAD /" + ManifestPath(repository, reference), "The repository or tag does not exist there.");

        /// <summary>
        /// <c>GET /v2/&lt;repository&gt;/manifests/&lt;reference&gt;</c>: the media type, the exact bytes and the digest
        /// (Docker-Content-Digest, else the sha256 of the bytes). A 404 throws RegistryUnexpectedStatus; when
        /// <paramref name="reference"/> is a sha256 digest the bytes are verified against it.
        /// </summary>
        public async Task<(string mediaType, byte[] body, string? digest)> GetManifestAsync(string repository, string reference, CancellationToken cancellationToken)
        {
            var path = ManifestPath(repository, reference);
            var operation = "GET /" + path;
            var response = await SendAsync(HttpMethod.Get, path, repository, ManifestMediaTypes.Accept, MaxManifestBytes, cancellationToken).ConfigureAwait(false);
            if (response.Status != 200)
            {
                throw Unexpected(response, operation);
            }

            if (response.BodyTruncated)
            {
                throw new EcrCacheException(
                    DiagnosticIds.RegistryUnexpectedStatus,
                    Endpoint.Host,
                    200,
                    operation,
                    "The manifest is larger than " + (MaxManifestBytes / (1024 * 1024)).ToString(CultureInfo.InvariantCulture) + " MiB.");
            }

            var body = response.Body ?? new byte[0];
            var mediaType = response.ContentType ?? string.Empty;
            var computed = ComputeDigest(body);
            var isSchema1 = mediaType.StartsWith("application/vnd.docker.distribution.manifest.v1", StringComparison.OrdinalIgnoreCase);
            if (!isSchema1 && reference.StartsWith(OciDigest.Sha256Prefix, StringComparison.Ordinal) && !string.Equals(reference, computed, StringComparison.Ordinal))
            {
                throw new EcrCacheException(
                    DiagnosticIds.RegistryUnexpectedStatus,
                    Endpoint.Host,
                    200,
                    operation,
                    "The manifest's content hashes to " + computed + ", not to the digest asked for.");
            }

            return (mediaType, body, string.IsNullOrEmpty(response.Digest) ? computed : response.Digest);
        }

        /// <summary>
        /// Uploads a small blob (monolithic: <c>POST /v2/&lt;repo&gt;/blobs/uploads/</c> then <c>PUT ?digest=</c>) unless
        /// <c>HEAD</c> finds it already. The body is a byte array, so every attempt (and retry) can resend it.
        /// </summary>
        public async Task PushBlobAsync(string repository, byte[] content, CancellationToken cancellationToken)
        {
            if (!OciNames.IsRepository(repository))
            {
                throw new EcrCacheException(DiagnosticIds.BadRepositoryName, repository);
            }

            var digest = ComputeDigest(content);
            var blobPath = "v2/" + repository + "/blobs/" + digest;
            var head = await SendAsync(HttpMethod.Head, blobPath, repository, null, 0, cancellationToken).ConfigureAwait(false);
            if (head.Status == 200)
            {
                return;
            }

            var start = await SendAsync(HttpMethod.Post, "v2/" + repository + "/blobs/uploads/", repository, null, () => new ByteArrayContent(new byte[0]), MaxErrorBodyBytes, cancellationToken).ConfigureAwait(false);
            if (start.Status != 202 || start.Location == null)
            {
                throw Unexpected(start, "POST /v2/" + repository + "/blobs/uploads/");
            }

            var location = start.Location.ToString();
            var target = location + (location.IndexOf('?') >= 0 ? "&" : "?") + "digest=" + Uri.EscapeDataString(digest);
            var put = await SendAsync(HttpMethod.Put, target, repository, null, () =>
            {
                var body = new ByteArrayContent(content);
                body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                return body;
            }, MaxErrorBodyBytes, cancellationToken).ConfigureAwait(false);
            if (put.Status != 201 && put.Status != 204)
            {
                throw Unexpected(put, "PUT blob " + digest);
            }
        }

        /// <summary><c>PUT /v2/&lt;repository&gt;/manifests/&lt;tag&gt;</c> with the exact bytes; returns the digest.</summary>
        public async Task<string> PutManifestAsync(string repository, string tag, string mediaType, byte[] body, CancellationToken cancellationToken)
        {
            var path = ManifestPath(repository, tag);
            var response = await SendAsync(HttpMethod.Put, path, repository, null, () =>
            {
                var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
                return content;
            }, MaxErrorBodyBytes, cancellationToken).ConfigureAwait(false);
            if (response.Status != 201 && response.Status != 200)
            {
                throw Unexpected(response, "PUT /" + path);
            }

            return string.IsNullOrEmpty(response.Digest) ? ComputeDigest(body) : response.Digest!;
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _http.Dispose();
        }

        /// <summary>The sha256 digest of <paramref name="content"/>: <c>sha256:&lt;64 lower-case hex&gt;</c>.</summary>
        public static string ComputeDigest(byte[] content) => OciDigest.Compute(content);

        /// <summary>
        /// The scopes to ask a token server for: those of the challenge plus <c>repository:&lt;repo&gt;:&lt;actions&gt;</c>,
        /// with the actions of scopes on the same resource merged (e.g. <c>pull</c> and <c>pull,push</c>).
        /// </summary>
        internal static IReadOnlyList<string> MergeScopes(string? challengeScope, string? repository, RegistryAccess access)
        {
            var order = new List<string>();
            var actions = new Dictionary<string, List<string>>(StringComparer.Ordinal);

            void Add(string scope)
            {
                // type:name:actions; the name may itself contain ':' (e.g. a port), the actions never do.
                var first = scope.IndexOf(':');
                var last = scope.LastIndexOf(':');
                string resource;
                string[] acts;
                if (first < 0 || last == first)
                {
                    resource = scope;
                    acts = new string[0];
                }
                else
                {
                    resource = scope.Substring(0, last);
                    acts = scope.Substring(last + 1).Split(new[] { ',' }, StringSplitOptions.RemoveEmptyEntries);
                }

                if (!actions.TryGetValue(resource, out var list))
                {
                    list = new List<string>();
                    actions.Add(resource, list);
                    order.Add(resource);
                }

                foreach (var a in acts)
                {
                    if (!list.Contains(a))
                    {
                        list.Add(a);
                    }
                }
            }

            if (!string.IsNullOrEmpty(challengeScope))
            {
                foreach (var scope in challengeScope!.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries))
                {
                    Add(scope);
                }
            }

            if (repository != null)
            {
                Add("repository:" + repository + ":" + ActionsText(access));
            }

            var result = new List<string>();
            foreach (var resource in order)
            {
                var list = actions[resource];
                result.Add(list.Count == 0 ? resource : resource + ":" + string.Join(",", list));
            }

            return result;
        }

        private static string ActionsText(RegistryAccess access) =>
            (access & RegistryAccess.Push) != 0 ? "pull,push" : "pull";

        private static string ManifestPath(string repository, string reference)
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

        /// <summary>Sends a request to the registry, running the auth handshake on 401. Throws on 401/403.</summary>
        private Task<Response> SendAsync(HttpMethod method, string relativePath, string? repository, IReadOnlyList<string>? accept, int maxBody, CancellationToken cancellationToken) =>
            SendAsync(method, relativePath, repository, accept, null, maxBody, cancellationToken);

        /// <summary>As above, with a request body made fresh for every attempt (so it can be replayed).</summary>
        private async Task<Response> SendAsync(HttpMethod method, string relativePath, string? repository, IReadOnlyList<string>? accept, Func<HttpContent>? content, int maxBody, CancellationToken cancellationToken)
        {
            if (_disposed)
            {
                throw new ObjectDisposedException(nameof(RegistryClient));
            }

            var uri = new Uri(Endpoint.BaseUri, relativePath);

            // Once a registry has challenged us, authenticate up front (saves a round trip per request).
            var known = _challenge;
            AuthenticationHeaderValue? authorization = null;
            if (known != null)
            {
                authorization = await AuthorizeAsync(known, null, repository, forceNewToken: false, cancellationToken).ConfigureAwait(false);
            }

            var response = await SendOnceAsync(method, uri, accept, authorization, content, maxBody, cancellationToken).ConfigureAwait(false);
            if (response.Status == 401)
            {
                var challenges = AuthenticationChallenge.Parse(response.WwwAuthenticate);
                var challenge = Pick(challenges);
                if (challenge == null)
                {
                    throw AuthRefused(repository, 401, challenges.Count == 0
                        ? "it sent no WWW-Authenticate challenge"
                        : "it asks for an unsupported authentication scheme (" + challenges[0].Scheme + ")");
                }

                _challenge = challenge;
                var retry = await AuthorizeAsync(challenge, challenge.Scope, repository, forceNewToken: authorization != null, cancellationToken).ConfigureAwait(false);
                if (retry == null)
                {
                    throw AuthRefused(repository, 401, null);
                }

                response = await SendOnceAsync(method, uri, accept, retry, content, maxBody, cancellationToken).ConfigureAwait(false);
            }

            if (response.Status == 401 || response.Status == 403)
            {
                throw AuthRefused(repository, response.Status, ErrorDetail(response));
            }

            return response;
        }

        private static AuthenticationChallenge? Pick(IReadOnlyList<AuthenticationChallenge> challenges)
        {
            foreach (var c in challenges)
            {
                if (c.IsBearer && !string.IsNullOrEmpty(c.Realm))
                {
                    return c;
                }
            }

            foreach (var c in challenges)
            {
                if (c.IsBasic)
                {
                    return c;
                }
            }

            return null;
        }

        /// <summary>The Authorization header answering <paramref name="challenge"/>, or null when we have nothing to send.</summary>
        private async Task<AuthenticationHeaderValue?> AuthorizeAsync(
            AuthenticationChallenge challenge,
            string? challengeScope,
            string? repository,
            bool forceNewToken,
            CancellationToken cancellationToken)
        {
            var credential = await GetCredentialAsync(cancellationToken).ConfigureAwait(false);
            var mayUseCredentials = CanSendCredentials(Endpoint.BaseUri);

            if (credential?.RegistryToken != null && mayUseCredentials)
            {
                // A registry token from the docker config is sent as is, like the docker CLI does.
                return new AuthenticationHeaderValue("Bearer", credential.RegistryToken);
            }

            if (challenge.IsBasic)
            {
                if (credential == null || !credential.HasUsernamePassword || !mayUseCredentials)
                {
                    return null;
                }

                return new AuthenticationHeaderValue("Basic", BasicValue(credential.Username!, credential.Password!));
            }

            var scopes = MergeScopes(challengeScope, repository, Access);
            var token = await GetBearerTokenAsync(challenge, scopes, credential, repository, forceNewToken, cancellationToken).ConfigureAwait(false);
            return new AuthenticationHeaderValue("Bearer", token);
        }

        private Task<RegistryCredential?> GetCredentialAsync(CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                var task = _credentialTask;
                if (task == null || task.IsFaulted || task.IsCanceled)
                {
                    task = _credentials.GetAsync(Endpoint.Host, cancellationToken);
                    _credentialTask = task;
                }

                return task;
            }
        }

        private async Task<string> GetBearerTokenAsync(
            AuthenticationChallenge challenge,
            IReadOnlyList<string> scopes,
            RegistryCredential? credential,
            string? repository,
            bool forceNew,
            CancellationToken cancellationToken)
        {
            var realm = challenge.Realm!;
            if (!Uri.TryCreate(realm, UriKind.Absolute, out var realmUri) || (realmUri.Scheme != Uri.UriSchemeHttps && realmUri.Scheme != Uri.UriSchemeHttp))
            {
                throw new EcrCacheException(DiagnosticIds.RegistryUnexpectedStatus, Endpoint.Host, 401, "the auth challenge", "Its token realm '" + realm + "' is not an http(s) URL.");
            }

            var service = challenge.Service;
            var sortedScopes = new List<string>(scopes);
            sortedScopes.Sort(StringComparer.Ordinal);
            var key = realm + "\n" + (service ?? string.Empty) + "\n" + string.Join(" ", sortedScopes);
            lock (_gate)
            {
                if (_tokens.TryGetValue(key, out var cached))
                {
                    if (!forceNew && cached.ExpiresAt > DateTime.UtcNow)
                    {
                        return cached.Token;
                    }

                    _tokens.Remove(key);
                }
            }

            var mayUseCredentials = CanSendCredentials(realmUri);
            if (credential != null && !credential.IsEmpty && !mayUseCredentials)
            {
                _log.Detail("Not sending credentials to the token server " + Display(realmUri) + " over plain http; asking for an anonymous token.");
            }

            Response response;
            var operation = "the token request to " + Display(realmUri);
            if (mayUseCredentials && credential?.IdentityToken != null)
            {
                // OAuth2 refresh-token grant (distribution token spec, "oauth.md").
                var form = new List<KeyValuePair<string, string>>
                {
                    new KeyValuePair<string, string>("grant_type", "refresh_token"),
                    new KeyValuePair<string, string>("refresh_token", credential.IdentityToken),
                    new KeyValuePair<string, string>("client_id", "ecrcache"),
                };
                if (service != null)
                {
                    form.Add(new KeyValuePair<string, string>("service", service));
                }

                if (scopes.Count > 0)
                {
                    form.Add(new KeyValuePair<string, string>("scope", string.Join(" ", scopes)));
                }

                response = await SendOnceAsync(HttpMethod.Post, realmUri, null, null, () => new FormUrlEncodedContent(form), MaxTokenBodyBytes, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var query = new StringBuilder();
                void Append(string name, string value)
                {
                    query.Append(query.Length == 0 ? string.Empty : "&").Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
                }

                if (service != null)
                {
                    Append("service", service);
                }

                foreach (var scope in scopes)
                {
                    Append("scope", scope);
                }

                AuthenticationHeaderValue? basic = null;
                if (mayUseCredentials && credential != null && credential.HasUsernamePassword)
                {
                    Append("account", credential.Username!);
                    basic = new AuthenticationHeaderValue("Basic", BasicValue(credential.Username!, credential.Password!));
                }

                var builder = new UriBuilder(realmUri);
                var existing = builder.Query.TrimStart('?');
                builder.Query = existing.Length == 0 ? query.ToString() : existing + (query.Length == 0 ? string.Empty : "&" + query);
                response = await SendOnceAsync(HttpMethod.Get, builder.Uri, null, basic, null, MaxTokenBodyBytes, cancellationToken).ConfigureAwait(false);
            }

            if (response.Status == 401 || response.Status == 403)
            {
                throw AuthRefused(repository, response.Status, "the token server " + realmUri.Authority + " refused them" + SuffixDetail(ErrorDetail(response)));
            }

            if (response.Status != 200)
            {
                throw Unexpected(response, operation);
            }

            string? token = null;
            var lifetime = MinTokenLifetime;
            try
            {
                using var document = JsonDocument.Parse(response.Body ?? new byte[0]);
                if (document.RootElement.ValueKind == JsonValueKind.Object)
                {
                    foreach (var property in document.RootElement.EnumerateObject())
                    {
                        if (property.Value.ValueKind == JsonValueKind.String && (property.Name == "token" || (property.Name == "access_token" && token == null)))
                        {
                            token = property.Value.GetString();
                        }
                        else if (property.Name == "expires_in" && property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetDouble(out var seconds))
                        {
                            if (seconds > MinTokenLifetime.TotalSeconds)
                            {
                                lifetime = TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.FromDays(1).TotalSeconds));
                            }
                        }
                    }
                }
            }
            catch (JsonException)
            {
                token = null;
            }

            if (string.IsNullOrEmpty(token))
            {
                throw new EcrCacheException(DiagnosticIds.RegistryUnexpectedStatus, Endpoint.Host, 200, operation, "The token server's answer holds no 'token' or 'access_token'.");
            }

            // Renew a little early so that a token does not expire in flight.
            var expiresAt = DateTime.UtcNow + lifetime - TimeSpan.FromSeconds(Math.Min(10, lifetime.TotalSeconds / 10));
            lock (_gate)
            {
                _tokens[key] = new CachedToken(token!, expiresAt);
            }

            return token!;
        }

        /// <summary>
        /// One HTTP exchange (following GET/HEAD redirects), under <see cref="Timeout"/>. Maps transport failures to
        /// RegistryUnreachable. Reads at most <paramref name="maxBody"/> bytes of a success body (64 KiB of an error body).
        /// </summary>
        private async Task<Response> SendOnceAsync(
            HttpMethod method,
            Uri uri,
            IReadOnlyList<string>? accept,
            AuthenticationHeaderValue? authorization,
            Func<HttpContent>? content,
            int maxBody,
            CancellationToken cancellationToken)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (_timeout != System.Threading.Timeout.InfiniteTimeSpan)
            {
                timeout.CancelAfter(_timeout);
            }

            var current = uri;
            for (var hop = 0; ; hop++)
            {
                var stopwatch = Stopwatch.StartNew();
                using var request = new HttpRequestMessage(method, current);
                if (accept != null)
                {
                    foreach (var mediaType in accept)
                    {
                        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(mediaType));
                    }
                }

                if (authorization != null)
                {
                    request.Headers.Authorization = authorization;
                }

                if (content != null)
                {
                    request.Content = content();
                }

                HttpResponseMessage message;
                try
                {
                    message = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    LogFailure(method, current, "timed out", stopwatch);
                    throw Unreachable(current, "no answer within " + FormatSeconds(_timeout));
                }
                catch (HttpRequestException ex)
                {
                    var reason = Describe(ex);
                    LogFailure(method, current, reason, stopwatch);
                    throw Unreachable(current, reason, ex);
                }

                using (message)
                {
                    var status = (int)message.StatusCode;
                    if (IsRedirect(status) && message.Headers.Location != null && (method == HttpMethod.Get || method == HttpMethod.Head))
                    {
                        LogExchange(method, current, status, stopwatch);
                        if (hop >= MaxRedirects)
                        {
                            throw new EcrCacheException(DiagnosticIds.RegistryUnexpectedStatus, current.Authority, status, method.Method + " " + Display(uri), "It redirected more than " + MaxRedirects.ToString(CultureInfo.InvariantCulture) + " times.");
                        }

                        var next = message.Headers.Location.IsAbsoluteUri ? message.Headers.Location : new Uri(current, message.Headers.Location);
                        if (current.Scheme == Uri.UriSchemeHttps && next.Scheme != Uri.UriSchemeHttps)
                        {
                            throw new EcrCacheException(
                                DiagnosticIds.RegistryUnexpectedStatus,
                                current.Authority,
                                status,
                                method.Method + " " + Display(uri),
                                "It redirects from https to " + Display(next) + "; EcrCache does not follow a redirect that drops TLS.");
                        }

                        if (!SameOrigin(current, next))
                        {
                            // Like HttpClient's own redirect handling: credentials never go to another origin.
                            authorization = null;
                        }

                        current = next;
                        continue;
                    }

                    var response = new Response(status, message.ReasonPhrase);
                    if (message.Headers.TryGetValues("Docker-Content-Digest", out var digests))
                    {
                        foreach (var d in digests)
                        {
                            response.Digest = d.Trim();
                            break;
                        }
                    }

                    if (message.Headers.Location != null)
                    {
                        response.Location = message.Headers.Location.IsAbsoluteUri ? message.Headers.Location : new Uri(current, message.Headers.Location);
                    }

                    if (message.Headers.TryGetValues("WWW-Authenticate", out var challenges))
                    {
                        response.WwwAuthenticate.AddRange(challenges);
                    }

                    var contentHeaders = message.Content?.Headers;
                    response.ContentType = contentHeaders?.ContentType?.MediaType;
                    response.ContentLength = contentHeaders?.ContentLength;

                    var limit = status >= 200 && status < 300 ? maxBody : Math.Min(maxBody == 0 ? MaxErrorBodyBytes : maxBody, MaxErrorBodyBytes);
                    if (method != HttpMethod.Head && message.Content != null && limit > 0)
                    {
                        try
                        {
                            await ReadBodyAsync(message.Content, limit, response, timeout.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                        {
                            LogFailure(method, current, "timed out reading the body", stopwatch);
                            throw Unreachable(current, "the answer did not complete within " + FormatSeconds(_timeout));
                        }
                        catch (Exception ex) when (ex is IOException || ex is HttpRequestException)
                        {
                            var reason = Describe(ex);
                            LogFailure(method, current, reason, stopwatch);
                            throw Unreachable(current, reason, ex);
                        }
                    }

                    LogExchange(method, current, status, stopwatch);
                    return response;
                }
            }
        }

        private static async Task ReadBodyAsync(HttpContent content, int limit, Response response, CancellationToken cancellationToken)
        {
#if NETFRAMEWORK
            using var stream = await content.ReadAsStreamAsync().ConfigureAwait(false);
#else
            using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
#endif
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            while (true)
            {
                var read = await stream.ReadAsync(chunk, 0, chunk.Length, cancellationToken).ConfigureAwait(false);
                if (read <= 0)
                {
                    break;
                }

                var room = limit - (int)buffer.Length;
                if (read > room)
                {
                    buffer.Write(chunk, 0, Math.Max(room, 0));
                    response.BodyTruncated = true;
                    break;
                }

                buffer.Write(chunk, 0, read);
            }

            response.Body = buffer.ToArray();
        }

        private bool CanSendCredentials(Uri uri)
        {
            if (uri.Scheme == Uri.UriSchemeHttps)
            {
                return true;
            }

            if (RegistryEndpoint.IsLoopbackHost(uri.Host))
            {
                return true;
            }

            // Plain http to the registry the user explicitly marked insecure.
            return Endpoint.IsInsecure && string.Equals(uri.Host.Trim('[', ']'), Endpoint.HostName.Trim('[', ']'), StringComparison.OrdinalIgnoreCase);
        }

        private static bool SameOrigin(Uri a, Uri b) =>
            string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase)
            && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase)
            && a.Port == b.Port;

        private static bool IsRedirect(int status) => status == 301 || status == 302 || status == 303 || status == 307 || status == 308;

        private static string BasicValue(string username, string password) =>
            Convert.ToBase64String(Encoding.UTF8.GetBytes(username + ":" + password));

        private void LogExchange(HttpMethod method, Uri uri, int status, Stopwatch stopwatch) =>
            _log.Detail(method.Method + " " + Display(uri) + " -> " + status.ToString(CultureInfo.InvariantCulture) + " (" + stopwatch.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture) + " ms)");

        private void LogFailure(HttpMethod method, Uri uri, string reason, Stopwatch stopwatch) =>
            _log.Detail(method.Method + " " + Display(uri) + " -> failed: " + reason + " (" + stopwatch.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture) + " ms)");

        private static string FormatSeconds(TimeSpan timeout) =>
            timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

        private EcrCacheException Unreachable(Uri uri, string reason, Exception? inner = null)
        {
            var host = string.Equals(uri.Authority, Endpoint.BaseUri.Authority, StringComparison.OrdinalIgnoreCase) ? Endpoint.Host : uri.Authority;
            return new EcrCacheException(Diagnostic.Create(DiagnosticIds.RegistryUnreachable, host, reason), inner);
        }

        private EcrCacheException AuthRefused(string? repository, int status, string? detail)
        {
            var source = _credentials is ICredentialSourceDescription described ? described.CredentialSource : _credentials.GetType().Name;
            var credential = _credentialTask != null && _credentialTask.Status == TaskStatus.RanToCompletion ? _credentialTask.Result : null;
            if (credential == null || credential.IsEmpty)
            {
                source = "no credentials were found for it; looked in " + source;
            }

            if (!string.IsNullOrEmpty(detail))
            {
                source += "; " + detail;
            }

            return new EcrCacheException(DiagnosticIds.RegistryAuthRefused, Endpoint.Host, repository ?? "/v2/", status, source);
        }

        private EcrCacheException Unexpected(Response response, string operation)
        {
            var detail = ErrorDetail(response) ?? string.Empty;
            if (detail.Length == 0)
            {
                detail = response.Reason ?? string.Empty;
            }

            if (detail.Length > 0 && !detail.EndsWith(".", StringComparison.Ordinal))
            {
                detail += ".";
            }

            return new EcrCacheException(DiagnosticIds.RegistryUnexpectedStatus, Endpoint.Host, response.Status, operation, detail);
        }

        private static string SuffixDetail(string? detail) => string.IsNullOrEmpty(detail) ? string.Empty : " (" + detail + ")";

        /// <summary>The registry's error list (<c>{"errors":[{"code":..,"message":..}]}</c>) as text, or null.</summary>
        private static string? ErrorDetail(Response response)
        {
            if (response.Body == null || response.Body.Length == 0)
            {
                return null;
            }

            try
            {
                using var document = JsonDocument.Parse(response.Body);
                if (document.RootElement.ValueKind != JsonValueKind.Object
                    || !document.RootElement.TryGetProperty("errors", out var errors)
                    || errors.ValueKind != JsonValueKind.Array)
                {
                    return null;
                }

                var parts = new List<string>();
                foreach (var error in errors.EnumerateArray())
                {
                    if (error.ValueKind != JsonValueKind.Object)
                    {
                        continue;
                    }

                    var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                    var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                    parts.Add(code != null && message != null ? code + ": " + message : code ?? message ?? "?");
                }

                return parts.Count == 0 ? null : string.Join("; ", parts);
            }
            catch (JsonException)
            {
                return null;
            }
        }

        private sealed record CachedToken(string Token, DateTime ExpiresAt)
        {
            public override string ToString() => "CachedToken(<redacted>, " + ExpiresAt.ToString("o", CultureInfo.InvariantCulture) + ")";
        }

        private sealed class Response
        {
            public Response(int status, string? reason)
            {
                Status = status;
                Reason = reason;
            }

            public int Status { get; }

            public string? Reason { get; }

            public string? Digest { get; set; }

            public string? ContentType { get; set; }

            public long? ContentLength { get; set; }

            public List<string> WwwAuthenticate { get; } = new List<string>();

            public Uri? Location { get; set; }

            public byte[]? Body { get; set; }

            public bool BodyTruncated { get; set; }
        }
    }
}
