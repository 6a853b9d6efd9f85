using System.Net;
using System.Net.Sockets;
using EcrCache.Registries.Oci;

namespace EcrCache.Registries.Auth
{
    /// <summary>
    /// Where a registry's credentials may go when its challenge names a token realm (docs/reference.md, "Registry
    /// credentials"). A registry chooses its realm, so without a rule a public registry could send the build's
    /// credentials to a service inside the build machine's network. Two rules: a realm on a loopback, private or
    /// link-local address (or named <c>localhost</c>) gets credentials only from a registry that is on such an
    /// address too; and never over plain http, except to loopback or to the registry's own host when that registry
    /// is explicitly insecure (it then gets Basic credentials over http anyway). Hosts are judged by what the URL
    /// says, not by a DNS lookup: a lookup made here would not bind the connection made later.
    /// </summary>
    internal static class TokenRealmPolicy
    {
        /// <summary>Null when the credentials for <paramref name="registry"/> may be sent to <paramref name="realm"/>; else why not, as "it ...".</summary>
        public static string? WhyNot(RegistryEndpoint registry, Uri realm)
        {
            if (IsLocal(realm) && !IsLocal(registry.BaseUri))
            {
                return "is on a loopback, private or link-local address and the registry is not";
            }

            if (realm.Scheme == Uri.UriSchemeHttps || RegistryEndpoint.IsLoopbackHost(realm.Host))
            {
                return null;
            }

            var registryOwnHost = registry.IsInsecure && string.Equals(realm.Host.Trim('[', ']'), registry.HostName.Trim('[', ']'), StringComparison.OrdinalIgnoreCase);
            return registryOwnHost ? null : "is plain http to a host that is not on loopback";
        }

        /// <summary>
        /// True for a URL whose host is loopback (127.0.0.0/8, ::1, <c>localhost</c>, <c>*.localhost</c>), private
        /// (10/8, 172.16/12, 192.168/16, fc00::/7, the old fec0::/10), link-local (169.254/16, fe80::/10) or
        /// unspecified (0.0.0.0/8, ::), also as an IPv4-mapped IPv6 address.
        /// </summary>
        public static bool IsLocal(Uri uri)
        {
            if (uri.HostNameType == UriHostNameType.Dns)
            {
                var name = uri.Host.TrimEnd('.').ToLowerInvariant();
                return name == "localhost" || name.EndsWith(".localhost", StringComparison.Ordinal);
            }

            return (uri.HostNameType == UriHostNameType.IPv4 || uri.HostNameType == UriHostNameType.IPv6)
                && IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address)
                && IsLocal(address);
        }

        public static bool IsLocal(IPAddress address)
        {
            if (address.IsIPv4MappedToIPv6)
            {
                address = address.MapToIPv4();
            }

            if (IPAddress.IsLoopback(address))
            {
                return true;
            }

            var b = address.GetAddressBytes();
            if (address.AddressFamily == AddressFamily.InterNetwork)
            {
                return b[0] == 10
                    || (b[0] == 172 && (b[1] & 0xF0) == 16)
                    || (b[0] == 192 && b[1] == 168)
                    || (b[0] == 169 && b[1] == 254)
                    || b[0] == 0;
            }

            return address.Equals(IPAddress.IPv6Any)
                || address.IsIPv6LinkLocal
                || address.IsIPv6SiteLocal
                || (b[0] & 0xFE) == 0xFC;
        }
    }
}
