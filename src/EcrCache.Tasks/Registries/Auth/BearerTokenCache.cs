using System.Globalization;
using System.Text.Json;

namespace EcrCache.Registries.Auth
{
    /// <summary>
    /// Bearer tokens from a token server, kept per realm, service and scope set until shortly before they expire
    /// (<c>expires_in</c>, at least 60 s as the token spec says, at most a day). Safe for concurrent use.
    /// </summary>
    internal sealed class BearerTokenCache
    {
        private static readonly TimeSpan MinLifetime = TimeSpan.FromSeconds(60);

        private readonly object _gate = new object();
        private readonly Dictionary<string, CachedToken> _tokens = new Dictionary<string, CachedToken>(StringComparer.Ordinal);

        /// <summary>The cache key: the scopes in any order name the same token.</summary>
        public static string Key(string realm, string? service, IReadOnlyList<string> scopes)
        {
            var sorted = new List<string>(scopes);
            sorted.Sort(StringComparer.Ordinal);
            return realm + "\n" + (service ?? string.Empty) + "\n" + string.Join(" ", sorted);
        }

        /// <summary>A live token for <paramref name="key"/>; with <paramref name="forceNew"/> (the registry refused it) the entry is dropped.</summary>
        public bool TryGet(string key, bool forceNew, out string token)
        {
            lock (_gate)
            {
                if (_tokens.TryGetValue(key, out var cached))
                {
                    if (!forceNew && cached.ExpiresAt > DateTime.UtcNow)
                    {
                        token = cached.Token;
                        return true;
                    }

                    _tokens.Remove(key);
                }
            }

            token = string.Empty;
            return false;
        }

        /// <summary>
        /// Reads a token server's answer (<c>token</c>, else <c>access_token</c>; <c>expires_in</c>) and keeps the
        /// token under <paramref name="key"/>. Null when the answer holds no token.
        /// </summary>
        public string? Store(string key, byte[] answer)
        {
            string? token = null;
            var lifetime = MinLifetime;
            try
            {
                using var document = JsonDocument.Parse(answer);
                if (document.RootElement.ValueKind == JsonValueKind.Object)
                {
                    foreach (var property in document.RootElement.EnumerateObject())
                    {
                        if (property.Value.ValueKind == JsonValueKind.String && (property.Name == "token" || (property.Name == "access_token" && token == null)))
                        {
                            token = property.Value.GetString();
                        }
                        else if (property.Name == "expires_in" && property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetDouble(out var seconds))
                        {
                            if (seconds > MinLifetime.TotalSeconds)
                            {
                                lifetime = TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.FromDays(1).TotalSeconds));
                            }
                        }
                    }
                }
            }
            catch (JsonException)
            {
                token = null;
            }

            if (string.IsNullOrEmpty(token))
            {
                return null;
            }

            // Renew a little early so that a token does not expire in flight.
            var expiresAt = DateTime.UtcNow + lifetime - TimeSpan.FromSeconds(Math.Min(10, lifetime.TotalSeconds / 10));
            lock (_gate)
            {
                _tokens[key] = new CachedToken(token!, expiresAt);
            }

            return token;
        }

        private sealed record CachedToken(string Token, DateTime ExpiresAt)
        {
            public override string ToString() => "CachedToken(<redacted>, " + ExpiresAt.ToString("o", CultureInfo.InvariantCulture) + ")";
        }
    }
}
