using System.Net;
using System.Net.Http.Headers;

namespace EcrCache.Http
{
    /// <summary>
    /// How every EcrCache HTTP client is built (registry, ECR, later providers): no automatic redirects (callers decide
    /// whether credentials may follow), no cookies, per-call timeouts instead of HttpClient's 100 s default, and one
    /// User-Agent. Every client also gets the shared retry policy (<see cref="HttpRetryPolicy.Default"/> unless the
    /// caller passes another): 429/5xx/connection failures are retried with jittered exponential backoff under a total
    /// deadline (docs/reliability.md), by a <see cref="RetryHandler"/> whose attempts are a <see cref="Resilience"/>
    /// pipeline, the same shape as every other retry in EcrCache.
    /// </summary>
    internal static class HttpClients
    {
        /// <param name="handler">The transport (tests pass fakes); null builds the standard one.</param>
        /// <param name="decompress">Accept gzip/deflate.</param>
        /// <param name="retry">The retry policy; null means <see cref="HttpRetryPolicy.Default"/>.</param>
        /// <param name="onRetry">Told about every retry and give-up (for the build log).</param>
        public static HttpClient Create(HttpMessageHandler? handler = null, bool decompress = false, HttpRetryPolicy? retry = null, Action<string>? onRetry = null)
        {
            var transport = handler ?? CreateHandler(decompress);
            var retrying = new RetryHandler(retry ?? HttpRetryPolicy.Default, transport) { OnRetry = onRetry };

            // disposeHandler=false for a caller's handler: the caller owns it (the RetryHandler would dispose it).
            var client = new HttpClient(retrying, disposeHandler: handler == null);
            client.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
            var version = typeof(HttpClients).Assembly.GetName().Version;
            client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("EcrCache", version == null ? "1.0" : version.ToString()));
            return client;
        }

        /// <summary>The handler behind <see cref="Create"/>, for libraries that build their own client around one (Google.Apis.Auth).</summary>
        public static HttpMessageHandler CreateHandler(bool decompress = false)
        {
            var decompression = decompress ? DecompressionMethods.GZip | DecompressionMethods.Deflate : DecompressionMethods.None;
#if NETFRAMEWORK
            return new HttpClientHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                AutomaticDecompression = decompression,
            };
#else
            return new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                AutomaticDecompression = decompression,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            };
#endif
        }
    }
}
