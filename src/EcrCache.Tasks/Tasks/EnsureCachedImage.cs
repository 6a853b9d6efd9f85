using EcrCache.Core;
using EcrCache.Diagnostics;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace EcrCache.Tasks
{
    /// <summary>
    /// Computes the content key and makes sure image:key is in the local daemon: a local hit, a pull from the store,
    /// or a build and push. Thin shell: parses items and properties into <see cref="CacheOptions"/> and runs
    /// <see cref="CacheEngine"/>. With <see cref="KeyOnly"/> it only computes and writes the key.
    /// </summary>
    public sealed partial class EnsureCachedImage : Microsoft.Build.Utilities.Task, ICancelableTask
    {
        /// <summary>The CacheOn metadata that OptionsParser reads (add new ones here).</summary>
        private static readonly string[] CacheOnMetadata = { "JsonPath", "Optional" };

        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();

        [Required]
        public string ProjectDirectory { get; set; } = "";

        public string ProjectName { get; set; } = "";

        public string? ProjectFile { get; set; }

        [Required]
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

        /// <summary>ECR provider: EcrCacheRegion.</summary>
        public string? Region { get; set; }

        /// <summary>ECR provider: EcrCacheMaxAgeDays.</summary>
        public string? MaxAgeDays { get; set; }

        /// <summary>ECR provider: EcrCachePullAccounts.</summary>
        public string? PullAccounts { get; set; }

        /// <summary>ECR provider: EcrCacheEcrEndpoint.</summary>
        public string? EcrEndpoint { get; set; }

        /// <summary>ECR provider: EcrTag items (Include = key, Value metadata).</summary>
        public ITaskItem[] EcrTags { get; set; } = Array.Empty<ITaskItem>();

        /// <summary>Artifact Registry providers (gar, gcr): EcrCacheGcpProject, EcrCacheGarLocation, EcrCacheGarRepository, EcrCacheGarEndpoint.</summary>
        public string? GcpProject { get; set; }

        public string? GarLocation { get; set; }

        public string? GarRepository { get; set; }

        public string? GarEndpoint { get; set; }
        /// <summary>S3 provider: EcrCacheS3Bucket.</summary>
        public string? S3Bucket { get; set; }

        /// <summary>S3 provider: EcrCacheS3Prefix.</summary>
        public string? S3Prefix { get; set; }

        /// <summary>Directory provider: EcrCacheDirectory.</summary>
        public string? CacheDirectory { get; set; }

        /// <summary>Directory provider: EcrCacheDirectoryMaxSizeMB.</summary>
        public string? DirectoryMaxSizeMB { get; set; }

        public string? SkipPull { get; set; }

        public string? PushLatest { get; set; }

        public string? ExportEnvVariable { get; set; }

        public string? EnvFile { get; set; }

        public string? MetadataKey { get; set; }

        public string? DockerPath { get; set; }

        public string? BuildkiteAgentPath { get; set; }

        /// <summary>EcrCacheMetadataTimeout.</summary>
        public string? MetadataTimeout { get; set; }

        /// <summary>EcrCacheDockerRetries.</summary>
        public string? DockerRetries { get; set; }

        /// <summary>EcrCacheLeaseTimeout.</summary>
        public string? LeaseTimeout { get; set; }

        public ITaskItem[] CacheOn { get; set; } = Array.Empty<ITaskItem>();

        public ITaskItem[] BuildArgs { get; set; } = Array.Empty<ITaskItem>();

        public ITaskItem[] Secrets { get; set; } = Array.Empty<ITaskItem>();

        /// <summary>Compute and write the key only: no lookup, build or export.</summary>
        public bool KeyOnly { get; set; }

        [Output]
        public string? Image { get; private set; }

        [Output]
        public string? Tag { get; private set; }

        [Output]
        public string? ImageReference { get; private set; }

        [Output]
        public string? Result { get; private set; }

        [Output]
        public string? Key { get; private set; }

        public void Cancel() => _cancel.Cancel();

        public override bool Execute()
        {
            var log = new TaskBuildLog(Log, ProjectFile);
            try
            {
                var options = OptionsParser.Parse(ToRawOptions(), log);
                var engine = new CacheEngine(options, log);
                if (Explain)
                {
                    var key = engine.ExplainAsync(_cancel.Token).GetAwaiter().GetResult();
                    Key = key.Hash;
                    Tag = key.Tag;
                }
                else if (KeyOnly)
                {
                    var key = engine.ComputeKeyAsync(_cancel.Token).GetAwaiter().GetResult();
                    Key = key.Hash;
                    Tag = key.Tag;
                    Log.LogMessage(MessageImportance.High, "EcrCache key: {0} (tag {1})", key.Hash, key.Tag);
                }
                else
                {
                    WarnLocalInBuildkite(options, log);
                    var result = engine.EnsureAsync(_cancel.Token).GetAwaiter().GetResult();
                    Image = result.Image;
                    Tag = result.Tag;
                    ImageReference = result.Reference;
                    Result = result.Result;
                    Key = result.Key.Hash;
                }
            }
            catch (EcrCacheException ex)
            {
                log.Error(ex.Diagnostic);
            }
            catch (OperationCanceledException) when (_cancel.IsCancellationRequested)
            {
                log.Error(Diagnostic.Create(DiagnosticIds.Cancelled));
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                log.Error(Diagnostic.Create(DiagnosticIds.UnexpectedError, ex.Message));
                Log.LogMessage(MessageImportance.Low, "{0}", ex.ToString());
            }

            return !log.HasLoggedErrors;
        }

        private RawOptions ToRawOptions()
        {
            var raw = new RawOptions
            {
                ProjectDirectory = ProjectDirectory,
                ProjectName = ProjectName,
                ProjectFile = ProjectFile,
                IntermediateDirectory = IntermediateDirectory,
                Dockerfile = Dockerfile,
                DockerfileInline = DockerfileInline,
                Context = Context,
                Target = Target,
                AdditionalBuildArgs = AdditionalBuildArgs,
                Provider = Provider,
                Registry = Registry,
                RegistryInsecure = RegistryInsecure,
                Repository = Repository,
                EcrRegion = Region,
                EcrMaxAgeDays = MaxAgeDays,
                EcrPullAccounts = PullAccounts,
                EcrEndpoint = EcrEndpoint,
                GcpProject = GcpProject,
                GarLocation = GarLocation,
                GarRepository = GarRepository,
                GarEndpoint = GarEndpoint,
                S3Bucket = S3Bucket,
                S3Prefix = S3Prefix,
                CacheDirectory = CacheDirectory,
                DirectoryMaxSizeMB = DirectoryMaxSizeMB,
                SkipPull = SkipPull,
                PushLatest = PushLatest,
                ExportEnvVariable = ExportEnvVariable,
                EnvFile = EnvFile,
                MetadataKey = MetadataKey,
                DockerPath = DockerPath,
                BuildkiteAgentPath = BuildkiteAgentPath,
                MetadataTimeout = MetadataTimeout,
                DockerRetries = DockerRetries,
                LeaseTimeout = LeaseTimeout,
            };
            CopyKeyFeatures(raw);
            CopyProviderChecks(raw);
            CopyCacheOn(CacheOn, raw.CacheOn);
            Copy(BuildArgs, raw.BuildArgs, withFullPath: false);
            Copy(Secrets, raw.Secrets, withFullPath: false);
            Copy(EcrTags, raw.EcrTags, withFullPath: false);
            return raw;
        }

        private static void Copy(ITaskItem[] items, IList<RawItem> target, bool withFullPath)
        {
            foreach (var item in items)
            {
                var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (System.Collections.DictionaryEntry entry in item.CloneCustomMetadata())
                {
                    metadata[(string)entry.Key] = (string?)entry.Value ?? "";
                }

                if (withFullPath)
                {
                    metadata["FullPath"] = item.GetMetadata("FullPath");
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
