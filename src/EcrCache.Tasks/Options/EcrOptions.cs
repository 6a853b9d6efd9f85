using System.Globalization;
using System.Text.RegularExpressions;
using EcrCache.Stores.Ecr;

namespace EcrCache.Options
{
    /// <summary>Validates the ECR provider's options (EcrCacheRegion, EcrCacheMaxAgeDays, EcrCachePullAccounts, EcrCacheEcrEndpoint, EcrTag).</summary>
    internal static class EcrOptionsParser
    {
        public const int MaxAgeDaysLimit = 3650;

        /// <summary>ECR's own repository name grammar (stricter than the distribution spec: no '__' or '--').</summary>
        private static readonly Regex RepositoryName = new Regex(
            "^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$",
            RegexOptions.CultureInvariant);

        private static readonly Regex AccountId = new Regex("^[0-9]{12}$", RegexOptions.CultureInvariant);

        // AWS resource tags: letters (any script), digits, spaces and _ . : / = + - @
        private static readonly Regex TagText = new Regex(@"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$", RegexOptions.CultureInvariant);

        public static void Apply(RawOptions raw, CacheOptions options)
        {
            if (!IsValidRepositoryName(options.Repository))
            {
                throw new EcrCacheException(DiagnosticIds.EcrInvalidRepositoryName, options.Repository, "ECR allows 2-256 characters, and no '__' or '--'");
            }

            var region = Validate.Trimmed(raw["Region"]);
            options.EcrRegion = region == null ? null : ValidateRegion(region);

            var days = Validate.Trimmed(raw["MaxAgeDays"]);
            if (days != null)
            {
                options.EcrMaxAgeDays = ParseMaxAgeDays(days);
            }

            foreach (var account in ParsePullAccounts(raw["PullAccounts"]))
            {
                options.EcrPullAccounts.Add(account);
            }

            var endpoint = Validate.Trimmed(raw["EcrEndpoint"]);
            options.EcrEndpoint = endpoint == null ? null : ValidateEndpoint(endpoint);

            foreach (var tag in ParseTags(raw.EcrTags))
            {
                options.EcrTags.Add(tag);
            }
        }

        // The validators below also check these options for the providers that ignore them (ProviderOptions.cs).

        /// <summary>EcrCacheRegion (trimmed, non-empty): the region, or BadEcrRegion.</summary>
        internal static string ValidateRegion(string region)
        {
            if (!EcrSettings.IsValidRegion(region))
            {
                throw new EcrCacheException(DiagnosticIds.BadEcrRegion, region, "EcrCacheRegion");
            }

            return region;
        }

        /// <summary>EcrCacheMaxAgeDays (trimmed, non-empty): 0 to <see cref="MaxAgeDaysLimit"/>, or BadEcrMaxAgeDays.</summary>
        internal static int ParseMaxAgeDays(string days)
        {
            return Validate.Integer(days, 0, MaxAgeDaysLimit, DiagnosticIds.BadEcrMaxAgeDays);
        }

        /// <summary>EcrCachePullAccounts: the distinct 12-digit account ids, or BadEcrPullAccount.</summary>
        internal static IList<string> ParsePullAccounts(string? text)
        {
            var accounts = new List<string>();
            foreach (var account in SplitList(text))
            {
                if (!AccountId.IsMatch(account))
                {
                    throw new EcrCacheException(DiagnosticIds.BadEcrPullAccount, account);
                }

                if (!accounts.Contains(account))
                {
                    accounts.Add(account);
                }
            }

            return accounts;
        }

        /// <summary>EcrCacheEcrEndpoint (trimmed, non-empty): an absolute http(s) URL, or BadEcrEndpoint.</summary>
        internal static string ValidateEndpoint(string endpoint)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new EcrCacheException(DiagnosticIds.BadEcrEndpoint, endpoint, "EcrCacheEcrEndpoint");
            }

            return endpoint;
        }

        /// <summary>EcrTag items as ECR resource tags (duplicates with the same value once), or BadEcrTag.</summary>
        internal static IList<KeyValuePair<string, string>> ParseTags(IEnumerable<RawItem> items)
        {
            var tags = new List<KeyValuePair<string, string>>();
            var seen = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var item in items)
            {
                var key = item.ItemSpec.Trim();
                var value = item.Get("Value") ?? string.Empty;
                var problem = TagProblem(key, value);
                if (problem != null)
                {
                    throw new EcrCacheException(DiagnosticIds.BadEcrTag, key, problem);
                }

                if (seen.TryGetValue(key, out var previous))
                {
                    if (!string.Equals(previous, value, StringComparison.Ordinal))
                    {
                        throw new EcrCacheException(DiagnosticIds.BadEcrTag, key, "it is declared twice with different values");
                    }

                    continue;
                }

                seen.Add(key, value);
                tags.Add(new KeyValuePair<string, string>(key, value));
            }

            if (tags.Count > 50)
            {
                throw new EcrCacheException(DiagnosticIds.BadEcrTag, tags[50].Key, "a repository takes at most 50 tags");
            }

            return tags;
        }

        public static bool IsValidRepositoryName(string name) =>
            !string.IsNullOrEmpty(name) && name.Length >= 2 && name.Length <= 256 && RepositoryName.IsMatch(name);

        internal static string? TagProblem(string key, string value)
        {
            if (key.Length == 0 || key.Length > 128)
            {
                return "the key must be 1-128 characters";
            }

            if (value.Length > 256)
            {
                return "the value is longer than 256 characters";
            }

            if (key.StartsWith("aws:", StringComparison.OrdinalIgnoreCase))
            {
                return "keys starting with aws: are reserved by AWS";
            }

            if (!TagText.IsMatch(key) || !TagText.IsMatch(value))
            {
                return "it contains a character AWS does not allow in tags";
            }

            return null;
        }

        private static IEnumerable<string> SplitList(string? text) =>
            string.IsNullOrWhiteSpace(text)
                ? Enumerable.Empty<string>()
                : text!.Split(new[] { ';', ',', ' ', '\t', '\n', '\r' }, StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()).Where(s => s.Length > 0);
    }
}
