using System.Globalization;
using System.Text.RegularExpressions;
using EcrCache.Core;
using EcrCache.Diagnostics;

namespace EcrCache.Stores.Gar
{
    /// <summary>
    /// Validates the Artifact Registry provider's options (EcrCacheGcpProject, EcrCacheGarLocation,
    /// EcrCacheGarRepository, EcrCacheGarEndpoint, EcrCacheMaxAgeDays, EcrTag items as labels) and resolves the names
    /// (see docs/gar.md). Runs after the generic options, so <see cref="CacheOptions.Registry"/> (EcrCacheRegistry, or its
    /// alias EcrCacheRegistryHostname) and <see cref="CacheOptions.Repository"/> are already valid.
    /// </summary>
    internal static class GarOptionsParser
    {
        public const int MaxAgeDaysLimit = 3650;

        /// <summary>The gcr.io hosts and the Artifact Registry multi-region that serves each.</summary>
        public static readonly IReadOnlyDictionary<string, string> GcrHostLocations = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["gcr.io"] = "us",
            ["us.gcr.io"] = "us",
            ["eu.gcr.io"] = "europe",
            ["asia.gcr.io"] = "asia",
        };

        // Project ids: 6-30 characters, lower-case letters, digits and hyphens, starting with a letter, not ending with a
        // hyphen; optionally domain-scoped (example.com:my-project).
        private static readonly Regex ProjectId = new Regex(
            "^(?:[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$",
            RegexOptions.CultureInvariant);

        // Locations: multi-regions (us, europe, asia) and regions (europe-west1, northamerica-northeast2, ...).
        private static readonly Regex LocationName = new Regex("^[a-z]+(?:-[a-z]+[0-9]+)?$", RegexOptions.CultureInvariant);

        // Repository ids: lower-case letters, digits and hyphens (and the dots of the gcr.io repository names), at most 63.
        private static readonly Regex RepositoryId = new Regex("^[a-z](?:[a-z0-9.-]{0,61}[a-z0-9])?$", RegexOptions.CultureInvariant);

        // Labels: keys start with a lower-case letter; keys and values hold lower-case letters, digits, '_' and '-'; 63 at most.
        private static readonly Regex LabelKey = new Regex("^[\\p{Ll}\\p{Lo}][\\p{Ll}\\p{Lo}\\p{N}_-]{0,62}$", RegexOptions.CultureInvariant);
        private static readonly Regex LabelValue = new Regex("^[\\p{Ll}\\p{Lo}\\p{N}_-]{0,63}$", RegexOptions.CultureInvariant);

        public static GarOptions Parse(RawOptions raw, CacheOptions options, bool gcrNaming)
        {
            var gar = new GarOptions { GcrNaming = gcrNaming, ImagePath = options.Repository };

            var project = Blank(raw.GcpProject);
            if (project == null)
            {
                throw new EcrCacheException(DiagnosticIds.GcpProjectRequired, gcrNaming ? "gcr" : "gar");
            }

            gar.Project = ValidateProject(project);

            var hostOverride = options.Registry;
            var location = Blank(raw.GarLocation)?.ToLowerInvariant();
            if (location == null)
            {
                location = gcrNaming && GcrHostLocations.TryGetValue(hostOverride ?? GarOptions.DefaultGcrHost, out var gcrLocation)
                    ? gcrLocation
                    : GarOptions.DefaultLocation;
            }

            gar.Location = ValidateLocation(location);

            var repositoryId = Blank(raw.GarRepository);
            if (repositoryId == null)
            {
                if (gcrNaming)
                {
                    var host = (hostOverride ?? GarOptions.DefaultGcrHost).ToLowerInvariant();
                    repositoryId = GcrHostLocations.ContainsKey(host) ? host : GarOptions.DefaultGcrHost;
                }
                else
                {
                    repositoryId = GarOptions.DefaultRepository;
                }
            }

            gar.RepositoryId = ValidateRepositoryId(repositoryId);
            gar.Host = hostOverride ?? (gcrNaming ? GarOptions.DefaultGcrHost : location + "-docker.pkg.dev");

            var endpoint = Blank(raw.GarEndpoint);
            if (endpoint != null)
            {
                gar.Endpoint = ParseEndpoint(endpoint);
                gar.EndpointSource = "EcrCacheGarEndpoint";
            }

            var days = Blank(raw.EcrMaxAgeDays);
            if (days != null)
            {
                if (!int.TryParse(days, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 0 || n > MaxAgeDaysLimit)
                {
                    throw new EcrCacheException(DiagnosticIds.BadGarMaxAgeDays, days);
                }

                gar.MaxAgeDays = n;
            }

            var seen = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var item in raw.EcrTags)
            {
                var key = item.ItemSpec.Trim().ToLowerInvariant();
                var value = (item.Get("Value") ?? string.Empty).Trim().ToLowerInvariant();
                if (!LabelKey.IsMatch(key))
                {
                    throw new EcrCacheException(DiagnosticIds.BadGarLabel, item.ItemSpec, "a key starts with a letter and holds only letters, digits, '_' and '-' (at most 63)");
                }

                if (!LabelValue.IsMatch(value))
                {
                    throw new EcrCacheException(DiagnosticIds.BadGarLabel, item.ItemSpec, "a value holds only letters, digits, '_' and '-' (at most 63)");
                }

                if (seen.TryGetValue(key, out var previous))
                {
                    if (!string.Equals(previous, value, StringComparison.Ordinal))
                    {
                        throw new EcrCacheException(DiagnosticIds.BadGarLabel, item.ItemSpec, "it is declared twice (keys are compared lower-cased) with different values");
                    }

                    continue;
                }

                seen.Add(key, value);
                gar.Labels.Add(new KeyValuePair<string, string>(key, value));
            }

            if (gar.Labels.Count > 64)
            {
                throw new EcrCacheException(DiagnosticIds.BadGarLabel, gar.Labels[64].Key, "a repository takes at most 64 labels");
            }

            return gar;
        }

        // The validators below also check these options for the providers that ignore them (Core/ProviderOptions.cs).

        /// <summary>EcrCacheGcpProject (trimmed, non-empty): a project id, or BadGcpProject.</summary>
        internal static string ValidateProject(string project)
        {
            if (!ProjectId.IsMatch(project))
            {
                throw new EcrCacheException(DiagnosticIds.BadGcpProject, project);
            }

            return project;
        }

        /// <summary>EcrCacheGarLocation (trimmed, lower-cased): a location name, or BadGarLocation.</summary>
        internal static string ValidateLocation(string location)
        {
            if (!LocationName.IsMatch(location) || location.Length > 40)
            {
                throw new EcrCacheException(DiagnosticIds.BadGarLocation, location, "it is not a location name such as us, europe or europe-west1");
            }

            return location;
        }

        /// <summary>EcrCacheGarRepository (trimmed, non-empty): a repository id, or BadGarRepository.</summary>
        internal static string ValidateRepositoryId(string repositoryId)
        {
            if (!RepositoryId.IsMatch(repositoryId))
            {
                throw new EcrCacheException(DiagnosticIds.BadGarRepository, repositoryId);
            }

            return repositoryId;
        }

        /// <summary>EcrCacheGarEndpoint (trimmed, non-empty): the API base URL ending with '/', or BadGarEndpoint.</summary>
        internal static Uri ParseEndpoint(string endpoint)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri)
                || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                || !string.IsNullOrEmpty(uri.UserInfo)
                || !string.IsNullOrEmpty(uri.Query))
            {
                throw new EcrCacheException(DiagnosticIds.BadGarEndpoint, endpoint);
            }

            return uri.AbsolutePath.EndsWith("/", StringComparison.Ordinal) ? uri : new Uri(uri.GetLeftPart(UriPartial.Path) + "/");
        }

        private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value!.Trim();
    }
}
