namespace EcrCache.Stores.Gar
{
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
