using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace EcrCache.Registries.Oci
{
    /// <summary>
    /// A registry's address: <see cref="Host"/> (host[:port], lower-case, as used for docker config lookups) and the
    /// <see cref="BaseUri"/> its v2 API lives under. The scheme is https, except plain http for loopback hosts
    /// (localhost, 127.0.0.0/8, [::1]) and when the caller says the registry is insecure.
    /// </summary>
    internal sealed class RegistryEndpoint
    {
        private static readonly Regex DnsName = new Regex(
            "^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?)*$",
            RegexOptions.CultureInvariant);

        private RegistryEndpoint(string host, string hostName, int? port, bool insecure, bool isLoopback)
        {
            Host = host;
            HostName = hostName;
            Port = port;
            IsInsecure = insecure;
            IsLoopback = isLoopback;
            var scheme = insecure || isLoopback ? "http" : "https";

            // Docker Hub's names are aliases; its API is served from registry-1.docker.io.
            var apiHost = host == "docker.io" || host == "index.docker.io" ? "registry-1.docker.io" : host;
            BaseUri = new Uri(scheme + "://" + apiHost + "/", UriKind.Absolute);
        }

        /// <summary>host[:port] as given (lower-cased), e.g. <c>123.dkr.ecr.us-east-1.amazonaws.com</c>, <c>127.0.0.1:5000</c>, <c>[::1]:5000</c>.</summary>
        public string Host { get; }

        /// <summary>The host name without the port (IPv6 addresses keep their brackets).</summary>
        public string HostName { get; }

        public int? Port { get; }

        /// <summary>True when the caller asked for plain http (EcrCacheRegistryInsecure).</summary>
        public bool IsInsecure { get; }

        /// <summary>True for localhost, 127.0.0.0/8 and [::1].</summary>
        public bool IsLoopback { get; }

        /// <summary><c>https://host[:port]/</c> or <c>http://host[:port]/</c>.</summary>
        public Uri BaseUri { get; }

        /// <summary>True when the API is reached over plain http.</summary>
        public bool IsPlainHttp => BaseUri.Scheme == Uri.UriSchemeHttp;

        /// <summary>
        /// Parses host[:port] (no scheme, path, user info or spaces; IPv6 in brackets). Throws BadRegistryHost
        /// (ECRC1013) otherwise.
        /// </summary>
        public static RegistryEndpoint Parse(string hostAndPort, bool insecure = false)
        {
            if (!TryParse(hostAndPort, insecure, out var endpoint))
            {
                throw new EcrCacheException(DiagnosticIds.BadRegistryHost, hostAndPort ?? string.Empty);
            }

            return endpoint!;
        }

        public static bool TryParse(string? hostAndPort, bool insecure, out RegistryEndpoint? endpoint)
        {
            endpoint = null;
            if (string.IsNullOrWhiteSpace(hostAndPort))
            {
                return false;
            }

            var text = hostAndPort!.Trim().ToLowerInvariant();
            foreach (var c in text)
            {
                if (char.IsWhiteSpace(c) || c == '/' || c == '\\' || c == '@' || c == '?' || c == '#' || c > '\u007e' || char.IsControl(c))
                {
                    return false;
                }
            }

            string hostName;
            string? portText = null;
            bool isLoopback;
            if (text.StartsWith("[", StringComparison.Ordinal))
            {
                var close = text.IndexOf(']');
                if (close < 0)
                {
                    return false;
                }

                var address = text.Substring(1, close - 1);
                if (!IPAddress.TryParse(address, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
                {
                    return false;
                }

                hostName = text.Substring(0, close + 1);
                var rest = text.Substring(close + 1);
                if (rest.Length > 0)
                {
                    if (rest[0] != ':')
                    {
                        return false;
                    }

                    portText = rest.Substring(1);
                }

                isLoopback = IPAddress.IsLoopback(ip);
            }
            else
            {
                var colon = text.IndexOf(':');
                if (colon >= 0)
                {
                    if (text.IndexOf(':', colon + 1) >= 0)
                    {
                        // An IPv6 address without brackets, or "http:..." style text.
                        return false;
                    }

                    hostName = text.Substring(0, colon);
                    portText = text.Substring(colon + 1);
                }
                else
                {
                    hostName = text;
                }

                if (hostName.Length == 0 || hostName.Length > 253 || !DnsName.IsMatch(hostName))
                {
                    return false;
                }

                isLoopback = hostName == "localhost"
                    || (IsDottedQuad(hostName) && IPAddress.TryParse(hostName, out var ip4) && IPAddress.IsLoopback(ip4));
            }

            int? port = null;
            if (portText != null)
            {
                if (portText.Length == 0 || portText.Length > 5)
                {
                    return false;
                }

                foreach (var c in portText)
                {
                    if (c < '0' || c > '9')
                    {
                        return false;
                    }
                }

                var value = int.Parse(portText, NumberStyles.None, CultureInfo.InvariantCulture);
                if (value < 1 || value > 65535)
                {
                    return false;
                }

                port = value;
            }

            var host = port == null ? hostName : hostName + ":" + port.Value.ToString(CultureInfo.InvariantCulture);
            endpoint = new RegistryEndpoint(host, hostName, port, insecure, isLoopback);
            return true;
        }

        /// <summary>True for localhost, 127.0.0.0/8 and ::1 (with or without brackets).</summary>
        public static bool IsLoopbackHost(string host)
        {
            if (string.IsNullOrEmpty(host))
            {
                return false;
            }

            var h = host.Trim('[', ']').ToLowerInvariant();
            if (h == "localhost")
            {
                return true;
            }

            return (IsDottedQuad(h) || h.IndexOf(':') >= 0) && IPAddress.TryParse(h, out var ip) && IPAddress.IsLoopback(ip);
        }

        public override string ToString() => Host;

        private static bool IsDottedQuad(string text)
        {
            var parts = text.Split('.');
            if (parts.Length != 4)
            {
                return false;
            }

            foreach (var part in parts)
            {
                if (part.Length == 0 || part.Length > 3)
                {
                    return false;
                }

                foreach (var c in part)
                {
                    if (c < '0' || c > '9')
                    {
                        return false;
                    }
                }
            }

            return true;
        }
    }
}
