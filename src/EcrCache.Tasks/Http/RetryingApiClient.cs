using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Polly;
using Polly.Timeout;
using static EcrCache.Http.HttpMessages;

namespace EcrCache.Http
{
    /// <summary>
    /// What the cloud control-plane clients (ECR, Artifact Registry) share. They retry themselves, because only they
    /// know which answers are worth another attempt (ECR sends throttling as HTTP 400 with an error code), so their
    /// HttpClient has no retry layer of its own, which would multiply the attempts; the attempts are a
    /// <see cref="Resilience"/> pipeline with the client's classification. Each attempt is limited to
    /// <see cref="Timeout"/>, its answer is read into memory (at most 1 MiB: these are small JSON documents), and the
    /// waits between attempts are full-jitter exponential backoff from <see cref="BackoffBase"/> up to 20 s. Every
    /// attempt is kept in <see cref="Calls"/> (no bodies, no secrets) and logged at detail level by the client.
    /// </summary>
    /// <typeparam name="TCall">How the client records one attempt.</typeparam>
    internal abstract class RetryingApiClient<TCall> : IDisposable
    {
        private const int MaxBodyBytes = 1024 * 1024;
        private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(20);

        private readonly string _service;
        private readonly HttpClient _http;
        private readonly object _gate = new object();
        private readonly List<TCall> _calls = new List<TCall>();
        private bool _disposed;

        /// <param name="service">How the retry log lines name the service ("ECR", "GAR").</param>
        protected RetryingApiClient(string service, IBuildLog log, HttpMessageHandler? handler, bool decompress)
        {
            _service = service;
            Log = log ?? throw new ArgumentNullException(nameof(log));
            _http = HttpClients.Create(handler, decompress, retry: HttpRetryPolicy.None);
        }

        /// <summary>Limit for one attempt (default 30 s).</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>The base of the exponential backoff (default 1 s, as the AWS SDKs' standard mode); tests lower it.</summary>
        public TimeSpan BackoffBase { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>Every HTTP attempt made so far, in order.</summary>
        public IReadOnlyList<TCall> Calls
        {
            get
            {
                lock (_gate)
                {
                    return _calls.ToArray();
                }
            }
        }

        protected IBuildLog Log { get; }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _http.Dispose();
        }

        /// <summary>A request body: one JSON object whose members <paramref name="writeMembers"/> writes.</summary>
        protected static byte[] JsonObject(Action<Utf8JsonWriter> writeMembers)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writeMembers(writer);
                writer.WriteEndObject();
            }

            return buffer.ToArray();
        }

        /// <summary>A success answer as JSON; an empty body is an empty object. Throws JsonException when it is not JSON.</summary>
        protected static JsonDocument ParseAnswer(byte[]? body) =>
            body == null || body.Length == 0 ? JsonDocument.Parse("{}") : JsonDocument.Parse(body);

        protected void ThrowIfDisposed()
        {
            if (_disposed)
            {
                throw new ObjectDisposedException(GetType().Name);
            }
        }

        /// <summary>Keeps <paramref name="call"/> in <see cref="Calls"/> and logs <paramref name="logLine"/> at detail level.</summary>
        protected void Record(TCall call, string logLine)
        {
            lock (_gate)
            {
                _calls.Add(call);
            }

            Log.Detail(logLine);
        }

        /// <summary>
        /// One operation with retries. Each attempt sends a fresh request from <paramref name="createRequest"/> (signatures
        /// and tokens are per attempt) and turns the response into an answer with <paramref name="read"/> (which records
        /// the attempt); <paramref name="retryReason"/> says why that answer is worth another attempt ("throttled (code)"),
        /// or null to return it. Returns the last answer and how many attempts were made.
        /// </summary>
        protected async Task<(TAnswer answer, int attempts)> SendWithRetriesAsync<TAnswer>(
            string operation,
            int maxAttempts,
            Func<CancellationToken, Task<HttpRequestMessage>> createRequest,
            Func<ApiResponse, TAnswer> read,
            Func<TAnswer, string?> retryReason,
            CancellationToken cancellationToken)
        {
            // Exceptions (credentials that cannot be had, a cancelled build) are never retried: transport failures
            // and timeouts arrive as answers with status 0, which retryReason judges like any other.
            var pipeline = Resilience.Pipeline<TAnswer>(
                new RetryShape { MaxAttempts = maxAttempts, BaseDelay = BackoffBase, MaxDelay = MaxBackoff },
                (outcome, _) => outcome.Exception == null && retryReason(outcome.Result!) is string reason ? new Transient(reason) : null);
            var attemptTimeout = Resilience.Timeout(Timeout);
            var attempts = 0;
            var answer = await pipeline.ExecuteAsync(
                async token =>
                {
                    token.ThrowIfCancellationRequested();
                    attempts++;
                    ApiResponse response;
                    using (var request = await createRequest(token).ConfigureAwait(false))
                    {
                        response = await SendOnceAsync(attemptTimeout, request, token).ConfigureAwait(false);
                    }

                    return read(response);
                },
                retry => Log.Detail(_service + " " + operation + ": " + retry.Reason + "; retrying in " + retry.Delay.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms (attempt " + (retry.Attempt + 1).ToString(CultureInfo.InvariantCulture) + " of " + retry.MaxAttempts.ToString(CultureInfo.InvariantCulture) + ")."),
                cancellationToken).ConfigureAwait(false);
            return (answer, attempts);
        }

        /// <summary>One exchange under <paramref name="attemptTimeout"/> (which covers the body too, not the credentials).</summary>
        private async Task<ApiResponse> SendOnceAsync(ResiliencePipeline attemptTimeout, HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var stopwatch = Stopwatch.StartNew();
            try
            {
                return await attemptTimeout.ExecuteAsync(
                    async token =>
                    {
                        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
#if NETFRAMEWORK
                        var bytes = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
#else
                        var bytes = await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false);
#endif
                        if (bytes.Length > MaxBodyBytes)
                        {
                            Array.Resize(ref bytes, MaxBodyBytes);
                        }

                        return new ApiResponse((int)response.StatusCode, bytes, response.Headers, null, stopwatch.ElapsedMilliseconds);
                    },
                    cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when ((ex is TimeoutRejectedException || ex is OperationCanceledException) && !cancellationToken.IsCancellationRequested)
            {
                return new ApiResponse(0, null, null, "no answer within " + Timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s", stopwatch.ElapsedMilliseconds);
            }
            catch (Exception ex) when (ex is HttpRequestException || ex is IOException)
            {
                return new ApiResponse(0, null, null, Describe(ex), stopwatch.ElapsedMilliseconds);
            }
        }
    }

    /// <summary>One attempt of a <see cref="RetryingApiClient{TCall}"/> call: the answer, or why there was none (status 0).</summary>
    /// <param name="Status">The HTTP status, or 0 when no answer came (refused, reset, timed out).</param>
    /// <param name="Body">The body, cut at 1 MiB; null without an answer.</param>
    /// <param name="TransportError">The transport failure in a few words when <paramref name="Status"/> is 0.</param>
    internal sealed record ApiResponse(int Status, byte[]? Body, HttpResponseHeaders? Headers, string? TransportError, long ElapsedMilliseconds)
    {
        public bool IsSuccess => Status >= 200 && Status < 300;
    }
}
