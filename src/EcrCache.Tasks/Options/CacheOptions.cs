using EcrCache.Keys;

namespace EcrCache.Options
{
    /// <summary>Where cached images live. Later providers (ecr, gar, s3, directory) add values here.</summary>
    internal enum ProviderKind
    {
        /// <summary>Only the local daemon's image store: no registry, nothing pushed.</summary>
        Local,

        /// <summary>Any OCI distribution registry, authenticated from the user's docker config.</summary>
        Registry,

        /// <summary>AWS ECR: repository, lifecycle policy and login managed through the ECR API (Stores/Ecr).</summary>
        Ecr,

        /// <summary>Google Artifact Registry, &lt;location&gt;-docker.pkg.dev names (Stores/Gar).</summary>
        Gar,

        /// <summary>Google Artifact Registry serving gcr.io names (Stores/Gar).</summary>
        Gcr,
        /// <summary>A gzipped 'docker save' tarball per key in an S3 bucket (Stores/Tarballs/S3).</summary>
        S3,

        /// <summary>A gzipped 'docker save' tarball per key in a local folder that a CI cache keeps (Stores/Tarballs).</summary>
        Directory,
    }

    /// <summary>A BuildKit secret: where docker reads it from. The value itself never enters this object.</summary>
    /// <param name="Spec">The --secret value, e.g. id=NPM_TOKEN,env=NPM_TOKEN or id=npmrc,src=/abs/.npmrc.</param>
    internal sealed record SecretSpec(string Id, string Spec, string? EnvironmentVariable, string? File)
    {
        public override string ToString() => Spec;
    }

    /// <summary>Typed options for one EnsureCachedImage run, parsed from MSBuild items and properties.</summary>
    internal sealed partial class CacheOptions
    {
        public string ProjectDirectory { get; set; } = "";

        public string ProjectName { get; set; } = "";

        /// <summary>The project file, which diagnostics point at.</summary>
        public string? ProjectFile { get; set; }

        /// <summary>Folder for the key, the key manifest and the stamp (obj/ecrcache/).</summary>
        public string IntermediateDirectory { get; set; } = "";

        public string? DockerfilePath { get; set; }

        public string? DockerfileInline { get; set; }

        public string ContextDirectory { get; set; } = "";

        public string? Target { get; set; }

        /// <summary>Build arguments in item order; a null value is an unset argument (the Dockerfile's ARG default applies).</summary>
        public IList<KeyValuePair<string, string?>> BuildArgs { get; } = new List<KeyValuePair<string, string?>>();

        public string? AdditionalBuildArgs { get; set; }

        public IList<string> AdditionalBuildArgList { get; } = new List<string>();

        public IList<SecretSpec> Secrets { get; } = new List<SecretSpec>();

        public IList<CacheOnInput> CacheOn { get; } = new List<CacheOnInput>();

        /// <summary>
        /// What OptionsParser saw of each CacheOn file (by full path), so the input stamp does not stat it again. The
        /// engine empties it after its first key: reused options must not describe files as they were at parse time.
        /// </summary>
        internal Dictionary<string, FileStat> CacheOnStats { get; } = new Dictionary<string, FileStat>(StringComparer.Ordinal);

        public ProviderKind Provider { get; set; } = ProviderKind.Local;

        public string? Registry { get; set; }

        public bool RegistryInsecure { get; set; }

        public string Repository { get; set; } = "";

        /// <summary>ECR: EcrCacheRegion, or null to resolve it from AWS_REGION, AWS_DEFAULT_REGION, the profile, eu-west-1.</summary>
        public string? EcrRegion { get; set; }

        /// <summary>ECR: days after push when cached images expire (EcrCacheMaxAgeDays, default 7; 0 leaves the lifecycle policy alone).</summary>
        public int EcrMaxAgeDays { get; set; } = 7;

        /// <summary>ECR: 12-digit account ids allowed to pull (EcrCachePullAccounts).</summary>
        public IList<string> EcrPullAccounts { get; } = new List<string>();

        /// <summary>ECR: API endpoint override (EcrCacheEcrEndpoint), else AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL.</summary>
        public string? EcrEndpoint { get; set; }

        /// <summary>ECR: resource tags for the repository (EcrTag items).</summary>
        public IList<KeyValuePair<string, string>> EcrTags { get; } = new List<KeyValuePair<string, string>>();

        /// <summary>Artifact Registry (providers gar and gcr): project, location, repository, names; null otherwise.</summary>
        public GarOptions? Gar { get; set; }
        /// <summary>Providers s3 and directory: their options (null for the others).</summary>
        public TarballOptions? Tarball { get; set; }

        public string ExportEnvVariable { get; set; } = "BUILDKITE_PLUGIN_DOCKER_IMAGE";

        public string EnvFile { get; set; } = "";

        public string? MetadataKey { get; set; }

        public string DockerPath { get; set; } = "docker";

        public string BuildkiteAgentPath { get; set; } = "buildkite-agent";

        /// <summary>How long <c>buildkite-agent meta-data set</c> may run before it is killed (EcrCacheMetadataTimeout, default 1 min).</summary>
        public TimeSpan MetadataTimeout { get; set; } = ExportOptions.DefaultMetadataTimeout;

        /// <summary>Extra attempts for a docker push/pull that failed transiently (EcrCacheDockerRetries, default 3).</summary>
        public int DockerRetries { get; set; } = 3;

        /// <summary>The longest others wait for a live holder of the lock or lease (EcrCacheLeaseTimeout, default 30 min; zero: off).</summary>
        public TimeSpan LeaseTimeout { get; set; } = TimeSpan.FromMinutes(30);

        /// <summary>How often the holder of a build lease renews it (EcrCacheLeaseRenewInterval, default 20 s).</summary>
        public TimeSpan LeaseRenewInterval { get; set; } = ReliabilityOptions.DefaultLeaseRenewInterval;

        /// <summary>How long a lease holds after its last renewal (EcrCacheLeaseTtl, default 90 s): a dead holder's lease frees after it.</summary>
        public TimeSpan LeaseTtl { get; set; } = ReliabilityOptions.DefaultLeaseTtl;

        /// <summary>The environment of the build (tests inject one).</summary>
        public Func<string, string?> Environment { get; set; } = System.Environment.GetEnvironmentVariable;
    }

}
