using System.Security.Authentication;

namespace EcrCache.Http
{
    /// <summary>How the HTTP clients (registry, ECR, Artifact Registry) put URLs and transport failures into logs and diagnostics.</summary>
    internal static class HttpMessages
    {
        /// <summary>A URL for logs and messages: scheme, host, port and path; never user info or the query.</summary>
        public static string Display(Uri uri) =>
            uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);

        /// <summary>
        /// A transport failure in a few words: the innermost message ("Connection refused", "Name or service not known", ...),
        /// prefixed with "TLS handshake failed: " when TLS was the cause.
        /// </summary>
        public static string Describe(Exception ex)
        {
            var innermost = Innermost(ex);
            for (var e = (Exception?)ex; e != null; e = e.InnerException)
            {
                if (e is AuthenticationException)
                {
                    return "TLS handshake failed: " + innermost.Message;
                }
            }

            return innermost.Message;
        }

        /// <summary>
        /// The exception at the bottom of the InnerException chain: for a transport failure, the socket's own words
        /// ("Connection refused", "No such file or directory") rather than the generic wrapper's.
        /// </summary>
        public static Exception Innermost(Exception ex)
        {
            var innermost = ex;
            while (innermost.InnerException != null)
            {
                innermost = innermost.InnerException;
            }

            return innermost;
        }
    }
}
