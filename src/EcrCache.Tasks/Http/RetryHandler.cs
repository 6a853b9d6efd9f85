using System.Globalization;
using Polly.Timeout;

namespace EcrCache.Http
{
    /// <summary>
    /// Applies an <see cref="HttpRetryPolicy"/> below HttpClient. Only requests whose body can be sent again are
    /// retried: no body, or a buffered one (<see cref="ByteArrayContent"/>, which StringContent and
    /// FormUrlEncodedContent derive from). A streamed body is sent once and its failure returned as is; callers that
    /// upload streams build a fresh request per attempt themselves. Each retry is reported through
    /// <see cref="OnRetry"/> (the method, the URL without query, why, and the wait), never with headers or bodies.
    /// The attempts, waits and deadline are a <see cref="Resilience"/> pipeline.
    /// </summary>
    internal sealed class RetryHandler : DelegatingHandler
    {
        private readonly RetryPipeline<HttpResponseMessage> _retrying;
        private readonly RetryPipeline<HttpResponseMessage> _once;

        public RetryHandler(HttpRetryPolicy policy, HttpMessageHandler inner)
            : base(inner)
        {
            Policy = policy ?? throw new ArgumentNullException(nameof(policy));
            _retrying = Resilience.Pipeline<HttpResponseMessage>(policy, policy.Classify);

            // A streamed body: the same attempt timeout, no retries.
            _once = Resilience.Pipeline<HttpResponseMessage>(new RetryShape { AttemptTimeout = policy.AttemptTimeout }, policy.Classify);
        }

        public HttpRetryPolicy Policy { get; }

        public Action<string>? OnRetry { get; set; }

        /// <summary>Attempts made by this handler so far (all requests).</summary>
        public int Attempts => _attempts;

        private int _attempts;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var replayable = request.Content == null || request.Content is ByteArrayContent;
            var pipeline = replayable ? _retrying : _once;
            try
            {
                return await pipeline.ExecuteAsync(
                    token =>
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        Interlocked.Increment(ref _attempts);
                        return base.SendAsync(request, token);
                    },
                    retry => Report(request, retry),
                    cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutRejectedException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new HttpRequestException("no response headers within " + Seconds(Policy.AttemptTimeout!.Value));
            }
        }

        private void Report(HttpRequestMessage request, RetryEvent retry)
        {
            var what = request.Method.Method + " " + Display(request.RequestUri) + ": " + retry.Reason + "; ";
            OnRetry?.Invoke(retry.GivingUp
                ? what + "giving up after " + retry.Attempt.ToString(CultureInfo.InvariantCulture) + " attempts in " + Seconds(retry.Elapsed) + " (retry deadline " + Seconds(retry.Deadline!.Value) + ")."
                : what + "attempt " + (retry.Attempt + 1).ToString(CultureInfo.InvariantCulture) + " of " + retry.MaxAttempts.ToString(CultureInfo.InvariantCulture) + " in " + retry.Delay.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms" + (retry.FromRetryAfter ? " (Retry-After)" : string.Empty) + ".");
        }

        private static string Seconds(TimeSpan time) => time.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";

        private static string Display(Uri? uri) =>
            uri == null ? "?" : uri.IsAbsoluteUri ? uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped) : uri.OriginalString;
    }
}
