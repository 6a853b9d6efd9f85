using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using EcrCache.Http;
using EcrCache.Registries.Auth;
using static EcrCache.Http.HttpMessages;

namespace EcrCache.Registries.Oci
{
    /// <summary>One request for <see cref="RegistryHttp.SendAsync(RegistryRequest, CancellationToken)"/>.</summary>
    internal sealed class RegistryRequest
    {
        public RegistryRequest(HttpMethod method, Uri uri)
        {
            Method = method ?? throw new ArgumentNullException(nameof(method));
            Uri = uri ?? throw new ArgumentNullException(nameof(uri));
        }

        public HttpMethod Method { get; }

        public Uri Uri { get; }

        public IReadOnlyList<string>? Accept { get; init; }

        /// <summary>Makes the body; called once per redirect hop, so each hop gets content of its own.</summary>
        public Func<HttpContent>? Content { get; init; }

        /// <summary>How many bytes of a success body to read (0: none); error bodies are read up to 64 KiB.</summary>
        public int MaxBody { get; init; }

        /// <summary>A header set by the caller (the token request's Basic); dropped on a redirect to another origin.</summary>
        public AuthenticationHeaderValue? Authorization { get; init; }

        /// <summary>
        /// A request to the registry itself: <see cref="RegistryAuthenticationHandler"/> answers its challenges, and a
        /// 401/403 that remains is RegistryAuthRefused. Dropped on a redirect to another origin.
        /// </summary>
        public bool Authenticate { get; init; }

        /// <summary>The repository whose scope a bearer token needs (null for <c>/v2/</c>).</summary>
        public string? Repository { get; init; }
    }

    /// <summary>
    /// The registry client's HTTP exchanges: one request under <see cref="Timeout"/>, GET/HEAD redirects followed by
    /// hand (credentials never follow to another origin, and an https-to-http redirect is refused), bodies read up
    /// to a limit, transport failures mapped to RegistryUnreachable. Each exchange is logged at detail level as
    /// <c>HEAD https://host/v2/repo/manifests/tag -> 200 (12 ms)</c>, never with headers or the query. Requests run
    /// on one HttpClient pipeline: the shared retries (<see cref="HttpClients"/>) over the
    /// <see cref="RegistryAuthenticationHandler"/> over the transport.
    /// </summary>
    internal sealed class RegistryHttp : IDisposable
    {
        public const int MaxErrorBodyBytes = 64 * 1024;

        public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

        private const int MaxRedirects = 5;

        private readonly RegistryEndpoint _endpoint;
        private readonly IBuildLog _log;
        private readonly RegistryAuthenticationHandler _auth;
        private readonly bool _ownsTransport;
        private readonly HttpClient _client;
        private TimeSpan _timeout = DefaultTimeout;
        private bool _disposed;

        /// <summary>The registry's host[:port], as errors name it.</summary>
        public string Host => _endpoint.Host;

        /// <param name="ownsTransport">Whether disposing this disposes the handler below <paramref name="auth"/> (false for a caller's).</param>
        public RegistryHttp(RegistryEndpoint endpoint, IBuildLog log, RegistryAuthenticationHandler auth, HttpRetryPolicy? retry, bool ownsTransport)
        {
            _endpoint = endpoint;
            _log = log;
            _auth = auth;
            _ownsTransport = ownsTransport;
            _client = HttpClients.Create(auth, retry: retry, onRetry: message => _log.Info("Registry " + message));
        }

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

        /// <summary>A request to the registry (<paramref name="path"/> relative to its base URL), authenticated as needed.</summary>
        public Task<RegistryResponse> SendAsync(HttpMethod method, string path, string? repository, IReadOnlyList<string>? accept, int maxBody, CancellationToken cancellationToken, Func<HttpContent>? content = null) =>
            SendAsync(
                new RegistryRequest(method, new Uri(_endpoint.BaseUri, path)) { Accept = accept, Content = content, MaxBody = maxBody, Authenticate = true, Repository = repository },
                cancellationToken);

        public async Task<RegistryResponse> SendAsync(RegistryRequest request, CancellationToken cancellationToken)
        {
            if (_disposed)
            {
                throw new ObjectDisposedException(nameof(RegistryClient));
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            void StartTimeout()
            {
                if (_timeout != System.Threading.Timeout.InfiniteTimeSpan)
                {
                    timeout.CancelAfter(_timeout);
                }
            }

            StartTimeout();
            var method = request.Method;
            var current = request.Uri;
            var authorization = request.Authorization;
            var authenticate = request.Authenticate;
            for (var hop = 0; ; hop++)
            {
                var stopwatch = Stopwatch.StartNew();
                using var message = new HttpRequestMessage(method, current);
                if (request.Accept != null)
                {
                    foreach (var mediaType in request.Accept)
                    {
                        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(mediaType));
                    }
                }

                if (authorization != null)
                {
                    message.Headers.Authorization = authorization;
                }

                if (request.Content != null)
                {
                    message.Content = request.Content();
                }

                if (authenticate)
                {
                    // Each leg of an auth handshake gets the whole timeout, as a request of its own would.
                    RegistryAuthenticationHandler.Mark(message, request.Repository, StartTimeout);
                }

                HttpResponseMessage answer;
                try
                {
                    answer = await _client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
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

                using (answer)
                {
                    var status = (int)answer.StatusCode;
                    if (IsRedirect(status) && answer.Headers.Location != null && (method == HttpMethod.Get || method == HttpMethod.Head))
                    {
                        Log(_log, method, current, status, stopwatch);
                        if (hop >= MaxRedirects)
                        {
                            throw new EcrCacheException(DiagnosticIds.RegistryUnexpectedStatus, current.Authority, status, method.Method + " " + Display(request.Uri), "It redirected more than " + MaxRedirects.ToString(CultureInfo.InvariantCulture) + " times.");
                        }

                        var next = answer.Headers.Location.IsAbsoluteUri ? answer.Headers.Location : new Uri(current, answer.Headers.Location);
                        if (current.Scheme == Uri.UriSchemeHttps && next.Scheme != Uri.UriSchemeHttps)
                        {
                            throw new EcrCacheException(
                                DiagnosticIds.RegistryUnexpectedStatus,
                                current.Authority,
                                status,
                                method.Method + " " + Display(request.Uri),
                                "It redirects from https to " + Display(next) + "; EcrCache does not follow a redirect that drops TLS.");
                        }

                        if (!SameOrigin(current, next))
                        {
                            // Like HttpClient's own redirect handling: credentials never go to another origin.
                            authorization = null;
                            authenticate = false;
                        }

                        current = next;
                        continue;
                    }

                    var response = RegistryResponse.FromHeaders(answer, current);
                    var limit = status >= 200 && status < 300 ? request.MaxBody : Math.Min(request.MaxBody == 0 ? MaxErrorBodyBytes : request.MaxBody, MaxErrorBodyBytes);
                    if (method != HttpMethod.Head && answer.Content != null && limit > 0)
                    {
                        try
                        {
                            await response.ReadBodyAsync(answer.Content, limit, timeout.Token).ConfigureAwait(false);
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

                    Log(_log, method, current, status, stopwatch);
                    if (request.Authenticate && (status == 401 || status == 403))
                    {
                        throw _auth.Refused(request.Repository, status, response.ErrorDetail());
                    }

                    return response;
                }
            }
        }

        /// <summary>ECRC1303 for <paramref name="operation"/>, with the registry's own error text.</summary>
        public EcrCacheException Unexpected(RegistryResponse response, string operation) => response.Unexpected(_endpoint.Host, operation);

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _client.Dispose();
            if (_ownsTransport)
            {
                _auth.Dispose();
            }
        }

        /// <summary>The detail-level line for one exchange: <c>METHOD url -> status (N ms)</c>.</summary>
        internal static void Log(IBuildLog log, HttpMethod method, Uri uri, int status, Stopwatch stopwatch) =>
            log.Detail(method.Method + " " + Display(uri) + " -> " + status.ToString(CultureInfo.InvariantCulture) + " (" + stopwatch.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture) + " ms)");

        private void LogFailure(HttpMethod method, Uri uri, string reason, Stopwatch stopwatch) =>
            _log.Detail(method.Method + " " + Display(uri) + " -> failed: " + reason + " (" + stopwatch.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture) + " ms)");

        private static string FormatSeconds(TimeSpan timeout) =>
            timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

        private static bool SameOrigin(Uri a, Uri b) =>
            string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase)
            && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase)
            && a.Port == b.Port;

        private static bool IsRedirect(int status) => status == 301 || status == 302 || status == 303 || status == 307 || status == 308;

        private EcrCacheException Unreachable(Uri uri, string reason, Exception? inner = null)
        {
            var host = string.Equals(uri.Authority, _endpoint.BaseUri.Authority, StringComparison.OrdinalIgnoreCase) ? _endpoint.Host : uri.Authority;
            return new EcrCacheException(Diagnostic.Create(DiagnosticIds.RegistryUnreachable, host, reason), inner);
        }
    }
}
