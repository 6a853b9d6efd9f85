namespace EcrCache.Core
{
    /// <summary>An item as MSBuild hands it over: the spec and its metadata, with no MSBuild types.</summary>
    internal sealed class RawItem
    {
        public RawItem(string itemSpec, IDictionary<string, string>? metadata = null)
        {
            ItemSpec = itemSpec;
            Metadata = metadata ?? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        }

        public string ItemSpec { get; }

        /// <summary>Custom metadata that the item defines (present even when empty), plus FullPath where known.</summary>
        public IDictionary<string, string> Metadata { get; }

        public string? Get(string name) => Metadata.TryGetValue(name, out var value) ? value : null;

        public bool Has(string name) => Metadata.ContainsKey(name);
    }

    /// <summary>Property values and items exactly as the project gave them; <see cref="OptionsParser"/> validates them.</summary>
    internal sealed partial class RawOptions
    {
        public string ProjectDirectory { get; set; } = "";
        public string ProjectName { get; set; } = "";
        public string? ProjectFile { get; set; }
        public string IntermediateDirectory { get; set; } = "";
        public string? Dockerfile { get; set; }
        public string? DockerfileInline { get; set; }
        public string? Context { get; set; }
        public string? Target { get; set; }
        public string? AdditionalBuildArgs { get; set; }
        public string? Provider { get; set; }
        public string? Registry { get; set; }
        public string? RegistryInsecure { get; set; }
        public string? Repository { get; set; }
        public string? EcrRegion { get; set; }
        public string? EcrMaxAgeDays { get; set; }
        public string? EcrPullAccounts { get; set; }
        public string? EcrEndpoint { get; set; }
        public IList<RawItem> EcrTags { get; } = new List<RawItem>();
        public string? GcpProject { get; set; }
        public string? GarLocation { get; set; }
        public string? GarRepository { get; set; }
        public string? GarEndpoint { get; set; }
        public string? S3Bucket { get; set; }
        public string? S3Prefix { get; set; }
        public string? CacheDirectory { get; set; }
        public string? DirectoryMaxSizeMB { get; set; }
        public string? SkipPull { get; set; }
        public string? PushLatest { get; set; }
        public string? ExportEnvVariable { get; set; }
        public string? EnvFile { get; set; }
        public string? MetadataKey { get; set; }
        public string? DockerPath { get; set; }
        public string? BuildkiteAgentPath { get; set; }
        public string? MetadataTimeout { get; set; }
        public string? DockerRetries { get; set; }
        public string? LeaseTimeout { get; set; }
        public IList<RawItem> CacheOn { get; } = new List<RawItem>();
        public IList<RawItem> BuildArgs { get; } = new List<RawItem>();
        public IList<RawItem> Secrets { get; } = new List<RawItem>();
        public Func<string, string?> Environment { get; set; } = System.Environment.GetEnvironmentVariable;
    }
}
