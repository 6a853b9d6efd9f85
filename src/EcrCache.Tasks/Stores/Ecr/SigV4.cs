using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace EcrCache.Stores.Ecr
{
    /// <summary>
    /// AWS Signature Version 4 for the requests of the ECR JSON protocol (a POST of a small JSON body to a path
    /// without a query string). Small and self-contained on purpose: AWSSDK.Core's signer is internal API that takes the
    /// SDK's own request and config types, while the algorithm is short and fully specified.
    /// </summary>
    internal static class SigV4
    {
        public const string Algorithm = "AWS4-HMAC-SHA256";

        /// <summary>
        /// Adds x-amz-date (and x-amz-security-token for session credentials) to <paramref name="headers"/> and returns
        /// the Authorization header value. <paramref name="headers"/> must hold every header to sign, host included
        /// (names in any case); all of them are signed.
        /// </summary>
        public static string Sign(
            string method,
            Uri uri,
            IDictionary<string, string> headers,
            byte[] body,
            string region,
            string service,
            AwsCredentials credentials,
            DateTime utcNow)
        {
            var amzDate = utcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
            var date = utcNow.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
            headers["x-amz-date"] = amzDate;
            if (credentials.SessionToken != null)
            {
                headers["x-amz-security-token"] = credentials.SessionToken;
            }

            var canonicalHeaders = headers
                .Select(h => new KeyValuePair<string, string>(h.Key.Trim().ToLowerInvariant(), CollapseSpaces(h.Value.Trim())))
                .OrderBy(h => h.Key, StringComparer.Ordinal)
                .ToList();
            var signedHeaders = string.Join(";", canonicalHeaders.Select(h => h.Key));

            var canonical = new StringBuilder();
            canonical.Append(method.ToUpperInvariant()).Append('\n');
            canonical.Append(CanonicalPath(uri)).Append('\n');
            canonical.Append(CanonicalQuery(uri)).Append('\n');
            foreach (var header in canonicalHeaders)
            {
                canonical.Append(header.Key).Append(':').Append(header.Value).Append('\n');
            }

            canonical.Append('\n');
            canonical.Append(signedHeaders).Append('\n');
            canonical.Append(Hex(Sha256(body)));

            var scope = date + "/" + region + "/" + service + "/aws4_request";
            var stringToSign = Algorithm + "\n" + amzDate + "\n" + scope + "\n" + Hex(Sha256(Encoding.UTF8.GetBytes(canonical.ToString())));

            var key = Hmac(Encoding.UTF8.GetBytes("AWS4" + credentials.SecretAccessKey), date);
            key = Hmac(key, region);
            key = Hmac(key, service);
            key = Hmac(key, "aws4_request");
            var signature = Hex(Hmac(key, stringToSign));

            return Algorithm + " Credential=" + credentials.AccessKeyId + "/" + scope + ", SignedHeaders=" + signedHeaders + ", Signature=" + signature;
        }

        private static string CanonicalPath(Uri uri)
        {
            var path = uri.AbsolutePath;
            if (string.IsNullOrEmpty(path))
            {
                return "/";
            }

            // Each segment URI-encoded once (the path is already escaped by Uri; normalize its escapes).
            var segments = path.Split('/');
            for (var i = 0; i < segments.Length; i++)
            {
                segments[i] = UriEncode(Uri.UnescapeDataString(segments[i]));
            }

            return string.Join("/", segments);
        }

        private static string CanonicalQuery(Uri uri)
        {
            var query = uri.Query;
            if (string.IsNullOrEmpty(query) || query == "?")
            {
                return string.Empty;
            }

            var pairs = new List<KeyValuePair<string, string>>();
            foreach (var part in query.TrimStart('?').Split('&'))
            {
                if (part.Length == 0)
                {
                    continue;
                }

                var eq = part.IndexOf('=');
                var name = Uri.UnescapeDataString(eq >= 0 ? part.Substring(0, eq) : part);
                var value = eq >= 0 ? Uri.UnescapeDataString(part.Substring(eq + 1)) : string.Empty;
                pairs.Add(new KeyValuePair<string, string>(UriEncode(name), UriEncode(value)));
            }

            return string.Join("&", pairs.OrderBy(p => p.Key, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value));
        }

        /// <summary>RFC 3986 encoding of everything but unreserved characters, as SigV4 requires.</summary>
        internal static string UriEncode(string value)
        {
            var sb = new StringBuilder(value.Length);
            foreach (var b in Encoding.UTF8.GetBytes(value))
            {
                var c = (char)b;
                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~')
                {
                    sb.Append(c);
                }
                else
                {
                    sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
                }
            }

            return sb.ToString();
        }

        private static string CollapseSpaces(string value)
        {
            if (value.IndexOf("  ", StringComparison.Ordinal) < 0)
            {
                return value;
            }

            var sb = new StringBuilder(value.Length);
            var previousSpace = false;
            foreach (var c in value)
            {
                if (c == ' ')
                {
                    if (!previousSpace)
                    {
                        sb.Append(c);
                    }

                    previousSpace = true;
                }
                else
                {
                    sb.Append(c);
                    previousSpace = false;
                }
            }

            return sb.ToString();
        }

        internal static byte[] Sha256(byte[] data)
        {
            using var sha = SHA256.Create();
            return sha.ComputeHash(data);
        }

        private static byte[] Hmac(byte[] key, string data)
        {
            using var hmac = new HMACSHA256(key);
            return hmac.ComputeHash(Encoding.UTF8.GetBytes(data));
        }

        internal static string Hex(byte[] bytes)
        {
            var sb = new StringBuilder(bytes.Length * 2);
            foreach (var b in bytes)
            {
                sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }

            return sb.ToString();
        }
    }
}
