using System.Diagnostics;
using System.Globalization;

namespace EcrCache.Http
{
    /// <summary>
    /// Applies an <see cref="HttpRetryPolicy"/> below HttpClient. Only requests whose body can be sent again are
    /// retried: no body, or a buffered one (<see cref="ByteArrayContent"/>, which StringContent and
    /// FormUrlEncodedContent derive from). A streamed body is sent once and its failure returned as is; callers that
    /// upload streams build a fresh request per attempt themselves. Each retry is reported through
    /// <see cref="OnRetry"/> (the method, the URL without query, why, and the wait), never with headers or bodies.
    /// </summary>
    internal sealed class RetryHandler : DelegatingHandler
    {
        private static readonly Random SharedRandom = new Random();

        public RetryHandler(HttpRetryPolicy policy, HttpMessageHandler inner)
            : base(inner)
        {
            Policy = policy ?? throw new ArgumentNullException(nameof(policy));
        }

        public HttpRetryPolicy Policy { get; }

        public Action<string>? OnRetry { get; set; }

        /// <summary>Attempts made by this handler so far (all requests).</summary>
        public int Attempts => _attempts;

        private int _attempts;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var replayable = request.Content == null || request.Content is ByteArrayContent;
            var started = Stopwatch.StartNew();
            for (var attempt = 1; ; attempt++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Interlocked.Increment(ref _attempts);
                var canRetry = replayable && attempt < Policy.MaxAttempts;
                HttpResponseMessage response;
                using (var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    if (Policy.AttemptTimeout != null)
                    {
                        attemptTimeout.CancelAfter(Policy.AttemptTimeout.Value);
                    }

                    try
                    {
                        response = await base.SendAsync(request, attemptTimeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && attemptTimeout.IsCancellationRequested)
                    {
                        var timedOut = new HttpRequestException("no response headers within " + Seconds(Policy.AttemptTimeout!.Value));
                        if (!canRetry || !await WaitAsync(request, attempt, "timed out", null, started, cancellationToken).ConfigureAwait(false))
                        {
                            throw timedOut;
                        }

                        continue;
                    }
                    catch (Exception ex) when (!cancellationToken.IsCancellationRequested && HttpRetryPolicy.IsRetryableException(ex) && canRetry)
                    {
                        if (!await WaitAsync(request, attempt, Innermost(ex), null, started, cancellationToken).ConfigureAwait(false))
                        {
                            throw;
                        }

                        continue;
                    }
                }

                var status = (int)response.StatusCode;
                if (!canRetry || !HttpRetryPolicy.IsRetryableStatus(status))
                {
                    return response;
                }

                var retryAfter = status == 429 || status == 503 ? Policy.RetryAfter(response, DateTimeOffset.UtcNow) : null;
                if (!await WaitAsync(request, attempt, "HTTP " + status.ToString(CultureInfo.InvariantCulture), retryAfter, started, cancellationToken).ConfigureAwait(false))
                {
                    return response;
                }

                response.Dispose();
            }
        }

        /// <summary>Waits before the next attempt; false when the deadline leaves no room for one.</summary>
        private async Task<bool> WaitAsync(HttpRequestMessage request, int attempt, string reason, TimeSpan? retryAfter, Stopwatch started, CancellationToken cancellationToken)
        {
            var delay = retryAfter ?? Policy.Backoff(attempt, SharedRandom);
            if (started.Elapsed + delay >= Policy.Deadline)
            {
                OnRetry?.Invoke(request.Method.Method + " " + Display(request.RequestUri) + ": " + reason + "; giving up after " + attempt.ToString(CultureInfo.InvariantCulture) + " attempts in " + Seconds(started.Elapsed) + " (retry deadline " + Seconds(Policy.Deadline) + ").");
                return false;
            }

            OnRetry?.Invoke(request.Method.Method + " " + Display(request.RequestUri) + ": " + reason + "; attempt " + (attempt + 1).ToString(CultureInfo.InvariantCulture) + " of " + Policy.MaxAttempts.ToString(CultureInfo.InvariantCulture) + " in " + delay.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms" + (retryAfter != null ? " (Retry-After)" : string.Empty) + ".");
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            return true;
        }

        private static string Seconds(TimeSpan time) => time.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";

        private static string Display(Uri? uri) =>
            uri == null ? "?" : uri.IsAbsoluteUri ? uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped) : uri.OriginalString;

        private static string Innermost(Exception ex)
        {
            while (ex.InnerException != null)
            {
                ex = ex.InnerException;
            }

            return ex.Message.TrimEnd('.', ' ');
        }
    }
}
