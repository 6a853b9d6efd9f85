using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Polly;
using Polly.Timeout;

namespace EcrCache.Http
{
    /// <summary>
    /// How HTTP calls are retried (applied by <see cref="RetryHandler"/> to every client that <see cref="HttpClients"/>
    /// builds, as a pipeline from <see cref="Resilience"/>): throttling (429, honouring Retry-After), 408, 500, 502, 503,
    /// 504 and connection failures (refused, reset, DNS, a timed-out attempt) are retried with exponential backoff and
    /// full jitter, at most <see cref="RetryShape.MaxAttempts"/> times and never starting an attempt or a wait after
    /// <see cref="RetryShape.Deadline"/> has passed since the first attempt. Everything else (4xx, 501, TLS failures, a
    /// cancelled build) is returned or thrown at once, and the caller turns it into a coded diagnostic.
    /// </summary>
    internal sealed class HttpRetryPolicy : RetryShape
    {
        /// <summary>
        /// 4 attempts, 0.4 s base delay doubling up to 4 s, 15 s total: a refused connection fails after at most
        /// 2.8 s of waits, a dead host well within 30 s.
        /// </summary>
        public HttpRetryPolicy()
        {
            MaxAttempts = 4;
            BaseDelay = TimeSpan.FromMilliseconds(400);
            MaxDelay = TimeSpan.FromSeconds(4);
            Deadline = TimeSpan.FromSeconds(15);
        }

        public static HttpRetryPolicy Default { get; } = new HttpRetryPolicy();

        /// <summary>One attempt: for clients that retry themselves with service-specific rules (the ECR API client).</summary>
        public static HttpRetryPolicy None { get; } = new HttpRetryPolicy { MaxAttempts = 1 };

        public static bool IsRetryableStatus(int status) =>
            status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;

        /// <summary>Transport failures worth another attempt: the connection failed or broke, not TLS or a bad URL.</summary>
        public static bool IsRetryableException(Exception ex)
        {
            for (var e = (Exception?)ex; e != null; e = e.InnerException)
            {
                if (e is System.Security.Authentication.AuthenticationException)
                {
                    return false;
                }
            }

            return ex is HttpRequestException || ex is IOException || ex is SocketException || ex is WebException;
        }

        /// <summary>
        /// The classification of one attempt: a retryable status (with the Retry-After of a 429/503), a retryable
        /// transport failure, or an attempt that hit <see cref="RetryShape.AttemptTimeout"/>; null for anything else,
        /// and for every failure once the caller has cancelled.
        /// </summary>
        public Transient? Classify(Outcome<HttpResponseMessage> outcome, CancellationToken cancellationToken)
        {
            if (outcome.Exception is TimeoutRejectedException)
            {
                return new Transient("timed out");
            }

            if (outcome.Exception != null)
            {
                return !cancellationToken.IsCancellationRequested && IsRetryableException(outcome.Exception)
                    ? new Transient(HttpMessages.Innermost(outcome.Exception).Message.TrimEnd('.', ' '))
                    : null;
            }

            var response = outcome.Result!;
            var status = (int)response.StatusCode;
            if (!IsRetryableStatus(status))
            {
                return null;
            }

            var retryAfter = status == 429 || status == 503 ? RetryAfter(response, DateTimeOffset.UtcNow) : null;
            return new Transient("HTTP " + status.ToString(CultureInfo.InvariantCulture), retryAfter);
        }

        /// <summary>
        /// The wait a 429/503 asks for (Retry-After seconds or date); null when absent. Not capped here: a wait that
        /// would end after the deadline makes the handler give up at once instead of sleeping.
        /// </summary>
        public TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset now)
        {
            var header = response.Headers.RetryAfter;
            TimeSpan? wait = null;
            if (header?.Delta != null)
            {
                wait = header.Delta.Value;
            }
            else if (header?.Date != null)
            {
                wait = header.Date.Value - now;
            }
            else if (response.Headers.TryGetValues("Retry-After", out var raw))
            {
                foreach (var value in raw)
                {
                    if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
                    {
                        wait = TimeSpan.FromSeconds(seconds);
                    }
                }
            }

            if (wait == null)
            {
                return null;
            }

            return wait.Value < TimeSpan.Zero ? TimeSpan.Zero : wait.Value;
        }
    }

    /// <summary>
    /// Timeouts for transfers: a fixed allowance for the round trip plus the time the body takes at a slow but
    /// acceptable rate, so a large upload or download is never cut off by a fixed 100 s limit.
    /// </summary>
    internal static class TransferTimeout
    {
        /// <summary>Time for connection, headers and a small body.</summary>
        public static readonly TimeSpan Base = TimeSpan.FromSeconds(30);

        /// <summary>The slowest rate still considered alive: 512 KiB/s.</summary>
        public const long MinimumBytesPerSecond = 512 * 1024;

        public static TimeSpan For(long bytes) =>
            bytes <= 0 ? Base : Base + TimeSpan.FromSeconds((double)bytes / MinimumBytesPerSecond);
    }
}
