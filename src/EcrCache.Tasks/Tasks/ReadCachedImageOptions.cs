using System.Reflection;
using EcrCache.Core;
using EcrCache.Options;
using Microsoft.Build.Framework;

namespace EcrCache.Tasks
{
    /// <summary>
    /// The pipeline's first task: reads and validates every option (Options/, one file per concern) before any step does
    /// work, so that a bad value fails the build while it is still cheap, and starts the pipeline that the step tasks
    /// continue through <see cref="Pipeline"/>. Its string parameters reach the parsers under their own names
    /// (<see cref="RawOptions"/>): an option is declared here once and read once, by its parser line.
    /// </summary>
    public sealed class ReadCachedImageOptions : CacheStepTask
    {
        /// <summary>The CacheOn metadata the parser reads (add new ones here).</summary>
        private static readonly string[] CacheOnMetadata = { "JsonPath", "Optional" };

        [Required]
        public string ProjectDirectory { get; set; } = "";

        public string ProjectName { get; set; } = "";

        public string? ProjectFile { get; set; }

        [Required]
        public string IntermediateDirectory { get; set; } = "";

        public string? DockerPath { get; set; }

        // Inputs of the key (Options/InputOptions.cs, KeyFeatureOptions.cs).
        public string? Dockerfile { get; set; }

        public string? DockerfileInline { get; set; }

        public string? Context { get; set; }

        public string? Target { get; set; }

        public string? AdditionalBuildArgs { get; set; }

        public string? Platform { get; set; }

        /// <summary>true, false or BestEffort.</summary>
        public string? BaseImageDigests { get; set; }

        public string? BaseImageDigestsCacheMinutes { get; set; }

        public string? RegistryMirrors { get; set; }

        public string? ComposeFile { get; set; }

        public string? ComposeService { get; set; }

        public ITaskItem[] CacheOn { get; set; } = Array.Empty<ITaskItem>();

        public ITaskItem[] BuildArgs { get; set; } = Array.Empty<ITaskItem>();

        public ITaskItem[] Secrets { get; set; } = Array.Empty<ITaskItem>();

        // The store (Options/StoreOptions.cs and the provider's file).
        public string? Provider { get; set; }

        public string? Registry { get; set; }

        public string? RegistryInsecure { get; set; }

        public string? Repository { get; set; }

        public string? Region { get; set; }

        public string? MaxAgeDays { get; set; }

        public string? PullAccounts { get; set; }

        public string? EcrEndpoint { get; set; }

        public string? GcpProject { get; set; }

        public string? GarLocation { get; set; }

        public string? GarRepository { get; set; }

        public string? GarEndpoint { get; set; }

        public string? S3Bucket { get; set; }

        public string? S3Prefix { get; set; }

        public string? CacheDirectory { get; set; }

        public string? DirectoryMaxSizeMB { get; set; }

        /// <summary>The EcrCache* properties Sdk.targets defaulted (';'-separated): values the user did not choose.</summary>
        public string? SdkDefaults { get; set; }

        /// <summary>Warn (ECRC1030) about provider local in a Buildkite job.</summary>
        public string? WarnOnLocalInBuildkite { get; set; }

        // Pull or build (Options/BuildOptions.cs, ReliabilityOptions.cs).
        public string? SkipPull { get; set; }

        public string? PushLatest { get; set; }

        public string? LayerCache { get; set; }

        public string? CacheFrom { get; set; }

        /// <summary>false: a miss is built and used but nothing is written to the store.</summary>
        public string? Push { get; set; }

        /// <summary>true: a miss is an error before any build.</summary>
        public string? RequireHit { get; set; }

        public string? DockerRetries { get; set; }

        public string? LeaseTimeout { get; set; }

        public string? LeaseRenewInterval { get; set; }

        public string? LeaseTtl { get; set; }

        // Exports (Options/ExportOptions.cs).
        public string? ExportEnvVariable { get; set; }

        public string? EnvFile { get; set; }

        public string? MetadataKey { get; set; }

        public string? BuildkiteAgentPath { get; set; }

        public string? MetadataTimeout { get; set; }

        // What the build prints (Options/OutputOptions.cs).
        public string? Progress { get; set; }

        public string? BuildkiteLogGroups { get; set; }
        // Retention and image labels (Options/RetentionOptions.cs, ImageLabelOptions.cs).
        public string? KeepCount { get; set; }

        public string? RegistryPrune { get; set; }

        public string? RegistryPruneGrace { get; set; }

        public string? ExplainImage { get; set; }

        /// <summary>EcrTag items: the repository's resource tags (Include = key, Value metadata).</summary>
        public ITaskItem[] EcrTags { get; set; } = Array.Empty<ITaskItem>();

        /// <summary>ImageTag items: extra tags pushed next to the key tag (never part of the key).</summary>
        public ITaskItem[] ImageTags { get; set; } = Array.Empty<ITaskItem>();

        /// <summary>Names the pipeline for the step tasks (their Pipeline parameter).</summary>
        [Output]
        public string? Pipeline { get; private set; }

        /// <summary>Not option values: the project's identity (typed in <see cref="RawOptions"/>) and the hand-over.</summary>
        private static readonly string[] NotOptions = { "ProjectDirectory", "ProjectName", "ProjectFile", "IntermediateDirectory", "Pipeline" };

        private protected override string? ProjectFileForDiagnostics => ProjectFile;

        private protected override void Run(IBuildLog log, CancellationToken cancellationToken)
        {
            var raw = ReadParameters();
            raw.ProjectDirectory = ProjectDirectory;
            raw.ProjectName = ProjectName;
            raw.ProjectFile = ProjectFile;
            raw.IntermediateDirectory = IntermediateDirectory;
            CopyCacheOn(CacheOn, raw.CacheOn);
            CopyItems(BuildArgs, raw.BuildArgs);
            CopyItems(Secrets, raw.Secrets);
            CopyItems(EcrTags, raw.EcrTags);
            foreach (var item in ImageTags)
            {
                // The declaring file, so that an unusable tag is reported at its item.
                var file = item.GetMetadata(TagOptions.DefiningProjectMetadata);
                raw.ImageTags.Add(new RawItem(item.ItemSpec, new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { [TagOptions.DefiningProjectMetadata] = file }));
            }

            Pipeline = Register(new CacheEngine(OptionsParser.Parse(raw, log), log));
        }

        /// <summary>
        /// This task's option values as the parsers read them: every public string parameter by its name. The project's
        /// identity and the items are copied by the task that has them (items are MSBuild types).
        /// </summary>
        private RawOptions ReadParameters()
        {
            var raw = new RawOptions();
            foreach (var property in StringParameters(typeof(ReadCachedImageOptions)))
            {
                raw[property.Name] = (string?)property.GetValue(this);
            }

            return raw;
        }

        /// <summary>The string parameters of this task: the option values (outputs, the project's identity excluded).</summary>
        internal static IEnumerable<PropertyInfo> StringParameters(Type taskType) =>
            taskType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.PropertyType == typeof(string) && p.GetSetMethod() != null // outputs have private setters
                    && p.DeclaringType != typeof(Microsoft.Build.Utilities.Task)
                    && Array.IndexOf(NotOptions, p.Name) < 0);

        private static void CopyItems(ITaskItem[] items, IList<RawItem> target)
        {
            foreach (var item in items)
            {
                var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (System.Collections.DictionaryEntry entry in item.CloneCustomMetadata())
                {
                    metadata[(string)entry.Key] = (string?)entry.Value ?? "";
                }

                target.Add(new RawItem(item.ItemSpec, metadata));
            }
        }

        /// <summary>
        /// CacheOn items can number tens of thousands: copy only the metadata the parser reads (FullPath and the
        /// <see cref="CacheOnMetadata"/> names), not every item's whole metadata table.
        /// </summary>
        private static void CopyCacheOn(ITaskItem[] items, IList<RawItem> target)
        {
            foreach (var item in items)
            {
                var metadata = new Dictionary<string, string>(CacheOnMetadata.Length + 1, StringComparer.OrdinalIgnoreCase)
                {
                    ["FullPath"] = item.GetMetadata("FullPath"),
                };
                foreach (var name in CacheOnMetadata)
                {
                    var value = item.GetMetadata(name);
                    if (!string.IsNullOrEmpty(value))
                    {
                        metadata[name] = value;
                    }
                }

                target.Add(new RawItem(item.ItemSpec, metadata));
            }
        }
    }
}
