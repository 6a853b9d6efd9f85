using EcrCache.Core;
using EcrCache.Options;
using Microsoft.Build.Framework;

namespace EcrCache.Tasks
{
    /// <summary>
    /// ResolveCachedImageStore: names the image. A store whose name the last run resolved for the same settings is not
    /// contacted: it is created when PullOrBuildCachedImage needs it.
    /// </summary>
    public sealed class ResolveCachedImageStore : PipelineStepTask
    {
        private static readonly object OncePerBuildGate = new object();

        private protected override string PreviousStep => "ComputeCachedImageKey";

        /// <summary>The repository reference without tag, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/build-cache/app.</summary>
        [Output]
        public string? Image { get; private set; }

        /// <summary>The provider, as EcrCacheProvider spells it (local, registry, ecr, gar, gcr, s3, directory).</summary>
        [Output]
        public string? ResolvedProvider { get; private set; }

        /// <summary>The registry host that holds the image, or empty for the local daemon and the tarball stores.</summary>
        [Output]
        public string? ResolvedRegistry { get; private set; }

        private protected override void Run(CacheEngine engine, IBuildLog log, CancellationToken cancellationToken)
        {
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
