using EcrCache.Logging;
using EcrCache.Options;
using Microsoft.Build.Framework;

namespace EcrCache.Tasks
{
    /// <summary>
    /// ResolveCachedImageStore: parses the provider's options (Options/StoreOptions.cs and the provider's file) and names
    /// the image. A store whose name the last run resolved for the same settings is not contacted: it is created when
    /// PullOrBuildCachedImage needs it.
    /// </summary>
    public sealed class ResolveCachedImageStore : CacheStepTask
    {
        private static readonly object OncePerBuildGate = new object();

        public string? Pipeline { get; set; }

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

        /// <summary>EcrTag items: the repository's resource tags (Include = key, Value metadata).</summary>
        public ITaskItem[] EcrTags { get; set; } = Array.Empty<ITaskItem>();

        /// <summary>The repository reference without tag, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/build-cache/app.</summary>
        [Output]
        public string? Image { get; private set; }

        /// <summary>The provider, as EcrCacheProvider spells it (local, registry, ecr, gar, gcr, s3, directory).</summary>
        [Output]
        public string? ResolvedProvider { get; private set; }

        /// <summary>The registry host that holds the image, or empty for the local daemon and the tarball stores.</summary>
        [Output]
        public string? ResolvedRegistry { get; private set; }

        private protected override void Run(IBuildLog log, CancellationToken cancellationToken)
        {
            var engine = Resume(Pipeline, "ComputeCachedImageKey", log);
            var raw = ReadParameters();
            CopyItems(EcrTags, raw.EcrTags);
            OptionsParser.Apply(raw, engine.Options, OptionsParser.Step.Store, log);
            WarnLocalInBuildkite(engine.Options, log);
            Image = engine.ResolveStoreStepAsync(cancellationToken).GetAwaiter().GetResult();
            ResolvedProvider = ProviderOptions.NameOf(engine.Options.Provider);
            ResolvedRegistry = engine.RegistryHost ?? "";
        }

        /// <summary>
        /// ECRC1030 once per build: a build that ensures many images on the local provider needs to read it only once.
        /// The marker lives as long as the build, in this MSBuild node.
        /// </summary>
        private void WarnLocalInBuildkite(CacheOptions options, IBuildLog log)
        {
            var warning = ProviderOptions.LocalInBuildkiteWarning(options);
            if (warning == null)
            {
                return;
            }

            const string marker = "EcrCache.LocalProviderInBuildkite.Warned";
            if (BuildEngine is IBuildEngine4 engine)
            {
                lock (OncePerBuildGate)
                {
                    if (engine.GetRegisteredTaskObject(marker, RegisteredTaskObjectLifetime.Build) != null)
                    {
                        return;
                    }

                    engine.RegisterTaskObject(marker, new object(), RegisteredTaskObjectLifetime.Build, allowEarlyCollection: false);
                }
            }

            log.Warning(warning);
        }
    }
}
