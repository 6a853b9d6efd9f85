using EcrCache.Exports;

namespace EcrCache.Options
{
    /// <summary>
    /// The export options (ExportCachedImage): the exported variable, the env files, the Buildkite meta-data key and the
    /// agent that sets it.
    /// </summary>
    internal static class ExportOptions
    {
        /// <summary>
        /// A meta-data set normally takes well under a second; the agent's own retries while Buildkite is unreachable
        /// last about four minutes, which is far too long to hold a build for a value later steps may not even read.
        /// </summary>
        public static readonly TimeSpan DefaultMetadataTimeout = TimeSpan.FromMinutes(1);

        public static readonly TimeSpan MaxMetadataTimeout = TimeSpan.FromHours(1);

        public static void Apply(RawOptions raw, CacheOptions options)
        {
            options.ExportEnvVariable = Validate.Grammar(Validate.Blank(raw["ExportEnvVariable"]) ?? "BUILDKITE_PLUGIN_DOCKER_IMAGE", Validate.EnvironmentName, DiagnosticIds.BadExportVariable);

            if (BuildkiteProtectedVariables.IsProtected(options.ExportEnvVariable))
            {
                throw new EcrCacheException(DiagnosticIds.ProtectedExportVariable, options.ExportEnvVariable);
            }

            options.MetadataTimeout = ParseMetadataTimeout(raw["MetadataTimeout"]);
            options.MetadataKey = Validate.Blank(raw["MetadataKey"]);
            options.BuildkiteAgentPath = Validate.Blank(raw["BuildkiteAgentPath"]) ?? "buildkite-agent";
            options.EnvFile = Validate.FullPath(raw.ProjectDirectory, Validate.Blank(raw["EnvFile"]) ?? Path.Combine(options.IntermediateDirectory, "image.env"));
            CheckEnvFileFolder(options.EnvFile);
        }

        /// <summary>
        /// The env file's folder is created when missing, but a path through an existing file can never be written:
        /// fail before building rather than after.
        /// </summary>
        internal static void CheckEnvFileFolder(string envFile)
        {
            if (string.IsNullOrEmpty(envFile))
            {
                return;
            }

            var folder = Path.GetDirectoryName(envFile);
            while (!string.IsNullOrEmpty(folder) && !Directory.Exists(folder))
            {
                if (File.Exists(folder))
                {
                    throw new EcrCacheException(DiagnosticIds.EnvFileWriteFailed, envFile, "'" + folder + "' is a file, not a folder");
                }

                folder = Path.GetDirectoryName(folder);
            }

            if (Directory.Exists(envFile))
            {
                throw new EcrCacheException(DiagnosticIds.EnvFileWriteFailed, envFile, "it is a folder");
            }
        }

        /// <summary>Whole minutes ("1") or a TimeSpan ("00:00:30"), like EcrCacheLeaseTimeout; 1 s to 1 h.</summary>
        internal static TimeSpan ParseMetadataTimeout(string? value)
        {
            return Validate.Duration(value, DefaultMetadataTimeout, TimeSpan.FromSeconds(1), MaxMetadataTimeout, DiagnosticIds.BadMetadataTimeout);
        }
    }
}
