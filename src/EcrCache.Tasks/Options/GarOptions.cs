using System.Globalization;
using System.Text.RegularExpressions;

namespace EcrCache.Options
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

            var project = Validate.Trimmed(raw["GcpProject"]);
            if (project == null)
            {
                throw new EcrCacheException(DiagnosticIds.GcpProjectRequired, gcrNaming ? "gcr" : "gar");
            }

            gar.Project = ValidateProject(project);

            var hostOverride = options.Registry;
            var location = Validate.Trimmed(raw["GarLocation"])?.ToLowerInvariant();
            if (location == null)
            {
                location = gcrNaming && GcrHostLocations.TryGetValue(hostOverride ?? GarOptions.DefaultGcrHost, out var gcrLocation)
                    ? gcrLocation
                    : GarOptions.DefaultLocation;
            }

            gar.Location = ValidateLocation(location);

            var repositoryId = Validate.Trimmed(raw["GarRepository"]);
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

            var endpoint = Validate.Trimmed(raw["GarEndpoint"]);
            if (endpoint != null)
            {
                gar.Endpoint = ParseEndpoint(endpoint);
                gar.EndpointSource = "EcrCacheGarEndpoint";
            }

            var days = Validate.Trimmed(raw["MaxAgeDays"]);
            if (days != null)
            {
                gar.MaxAgeDays = Validate.Integer(days, 0, MaxAgeDaysLimit, DiagnosticIds.BadGarMaxAgeDays);
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

        // The validators below also check these options for the providers that ignore them (ProviderOptions.cs).

        /// <summary>EcrCacheGcpProject (trimmed, non-empty): a project id, or BadGcpProject.</summary>
        internal static string ValidateProject(string project) => Validate.Grammar(project, ProjectId, DiagnosticIds.BadGcpProject);

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
        internal static string ValidateRepositoryId(string repositoryId) => Validate.Grammar(repositoryId, RepositoryId, DiagnosticIds.BadGarRepository);

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
    }

    /// <summary>
    /// The Artifact Registry provider's resolved options (EcrCacheProvider=gar or gcr), parsed by
    /// <see cref="GarOptionsParser"/>. Everything here is validated; nothing here is a secret.
    /// </summary>
    internal sealed class GarOptions
    {
        /// <summary>The public control-plane endpoint (Artifact Registry API v1 lives under it).</summary>
        public static readonly Uri DefaultEndpoint = new Uri("https://artifactregistry.googleapis.com/");

        /// <summary>The Artifact Registry location when EcrCacheGarLocation is not set (provider gar): the US multi-region.</summary>
        public const string DefaultLocation = "us";

        /// <summary>The Artifact Registry repository id when EcrCacheGarRepository is not set (provider gar).</summary>
        public const string DefaultRepository = "build-cache";

        /// <summary>The data-plane host when EcrCacheRegistryHostname is not set (provider gcr), as the reference plugin's.</summary>
        public const string DefaultGcrHost = "gcr.io";

        /// <summary>True for EcrCacheProvider=gcr: image names as gcr.io has them (host/project/path), no repository id in the name.</summary>
        public bool GcrNaming { get; set; }

        /// <summary>The Google Cloud project id (EcrCacheGcpProject), e.g. my-project or example.com:my-project.</summary>
        public string Project { get; set; } = "";

        /// <summary>The Artifact Registry location, e.g. us, europe, europe-west1.</summary>
        public string Location { get; set; } = DefaultLocation;

        /// <summary>The Artifact Registry repository id (build-cache, or gcr.io / eu.gcr.io ... for gcr.io repositories).</summary>
        public string RepositoryId { get; set; } = DefaultRepository;

        /// <summary>host[:port] docker pushes to and pulls from: &lt;location&gt;-docker.pkg.dev, gcr.io, or the EcrCacheRegistryHostname override.</summary>
        public string Host { get; set; } = "";

        /// <summary>The image path inside the repository (EcrCacheRepository).</summary>
        public string ImagePath { get; set; } = "";

        /// <summary>The Artifact Registry API endpoint (EcrCacheGarEndpoint, for private endpoints and tests).</summary>
        public Uri Endpoint { get; set; } = DefaultEndpoint;

        /// <summary>Where <see cref="Endpoint"/> came from, for messages.</summary>
        public string EndpointSource { get; set; } = "the public endpoint";

        /// <summary>Days after which versions are deleted by a cleanup policy; 0 leaves the policies alone.</summary>
        public int MaxAgeDays { get; set; } = 7;

        /// <summary>The newest versions a keep policy protects from the cleanup policy (EcrCacheKeepCount; 0 = none).</summary>
        public int KeepCount { get; set; }

        /// <summary>Repository labels from EcrTag items, lower-cased as Google requires.</summary>
        public IList<KeyValuePair<string, string>> Labels { get; } = new List<KeyValuePair<string, string>>();

        /// <summary>The project as it appears in image names: a domain-scoped project example.com:p becomes example.com/p.</summary>
        public string ProjectPath => Project.Replace(':', '/');

        /// <summary>projects/&lt;project&gt;/locations/&lt;location&gt;/repositories/&lt;id&gt;.</summary>
        public string RepositoryResourceName => ParentResourceName + "/repositories/" + RepositoryId;

        /// <summary>projects/&lt;project&gt;/locations/&lt;location&gt;.</summary>
        public string ParentResourceName => "projects/" + Project + "/locations/" + Location;

        /// <summary>
        /// The image name without tag: host/project/repository-id/path for Artifact Registry names, host/project/path for
        /// gcr.io names (Artifact Registry serves those from the repository named after the host).
        /// </summary>
        public string Image => GcrNaming
            ? Host + "/" + ProjectPath + "/" + ImagePath
            : Host + "/" + ProjectPath + "/" + RepositoryId + "/" + ImagePath;

        /// <summary>The repository part of <see cref="Image"/> that the registry v2 API addresses (no host).</summary>
        public string RegistryRepository => Image.Substring(Host.Length + 1);

        public override string ToString() => "GarOptions(" + RepositoryResourceName + ", " + Host + ")";
    }
}
