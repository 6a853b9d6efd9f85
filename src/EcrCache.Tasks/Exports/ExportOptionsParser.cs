using EcrCache.Core;
using EcrCache.Diagnostics;

namespace EcrCache.Exports
{
    /// <summary>
    /// The export options that need Buildkite knowledge. Called once from <see cref="OptionsParser"/>, after it has
    /// checked that <see cref="CacheOptions.ExportEnvVariable"/> is a variable name.
    /// </summary>
    internal static class ExportOptionsParser
    {
        /// <summary>
        /// A meta-data set normally takes well under a second; the agent's own retries while Buildkite is unreachable
        /// last about four minutes, which is far too long to hold a build for a value later steps may not even read.
        /// </summary>
        public static readonly TimeSpan DefaultMetadataTimeout = TimeSpan.FromMinutes(1);

        public static readonly TimeSpan MaxMetadataTimeout = TimeSpan.FromHours(1);

        public static void Apply(RawOptions raw, CacheOptions options)
        {
            if (BuildkiteProtectedVariables.IsProtected(options.ExportEnvVariable))
            {
                throw new EcrCacheException(DiagnosticIds.ProtectedExportVariable, options.ExportEnvVariable);
            }

            options.MetadataTimeout = ParseMetadataTimeout(raw.MetadataTimeout);
        }

        /// <summary>Whole minutes ("1") or a TimeSpan ("00:00:30"), like EcrCacheLeaseTimeout; 1 s to 1 h.</summary>
        internal static TimeSpan ParseMetadataTimeout(string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                return DefaultMetadataTimeout;
            }

            var timeout = OptionsParser.ParseMinutesOrTimeSpan(value!, DiagnosticIds.BadMetadataTimeout);
            if (timeout < TimeSpan.FromSeconds(1) || timeout > MaxMetadataTimeout)
            {
                throw new EcrCacheException(DiagnosticIds.BadMetadataTimeout, value);
            }

            return timeout;
        }
    }
}
