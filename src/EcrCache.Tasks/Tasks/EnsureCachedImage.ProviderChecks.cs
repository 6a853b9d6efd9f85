using EcrCache.Core;
using EcrCache.Logging;
using Microsoft.Build.Framework;

namespace EcrCache.Tasks
{
    /// <summary>The parameters of the provider checks (Core/ProviderOptions.cs) and the once-per-build ECRC1030.</summary>
    public sealed partial class EnsureCachedImage
    {
        private static readonly object OncePerBuildGate = new object();

        /// <summary>The EcrCache* properties Sdk.targets defaulted (';'-separated): values the user did not choose.</summary>
        public string? SdkDefaults { get; set; }

        /// <summary>EcrCacheWarnOnLocalInBuildkite: warn (ECRC1030) about provider local in a Buildkite job.</summary>
        public string? WarnOnLocalInBuildkite { get; set; }

        private void CopyProviderChecks(RawOptions raw)
        {
            raw.SdkDefaults = SdkDefaults;
            raw.WarnOnLocalInBuildkite = WarnOnLocalInBuildkite;
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
