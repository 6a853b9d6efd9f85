using System;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;

namespace EcrCache.Http
{
    /// <summary>
    /// How every EcrCache HTTP client is built (registry, ECR, later providers): no automatic redirects (callers decide
    /// whether credentials may follow), no cookies, per-call timeouts instead of HttpClient's 100 s default, and one
    /// User-Agent. The seam where shared retry and timeout policy belongs.
    /// </summary>
    public static class HttpClients
    {
        public static HttpClient Create(HttpMessageHandler? handler = null, bool decompress = false)
        {
            var client = handler == null
                ? new HttpClient(CreateHandler(decompress), disposeHandler: true)
                : new HttpClient(handler, disposeHandler: false);
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
