using EcrCache.Docker;

namespace EcrCache.Options
{
    /// <summary>What the build prints: EcrCacheProgress and EcrCacheBuildkiteLogGroups (docs/reference.md, "What the build prints").</summary>
    internal static class OutputOptions
    {
        public static void Apply(RawOptions raw, CacheOptions options)
        {
            options.Progress = ParseProgress(raw["Progress"]);
            options.BuildkiteLogGroups = Validate.Bool("EcrCacheBuildkiteLogGroups", raw["BuildkiteLogGroups"], true);
        }

        internal static ProgressMode ParseProgress(string? value)
        {
            switch (Validate.Trimmed(value)?.ToLowerInvariant())
            {
                case null:
                case "steps":
                    return ProgressMode.Steps;
                case "quiet":
                    return ProgressMode.Quiet;
                case "full":
                    return ProgressMode.Full;
                default:
                    throw new EcrCacheException(DiagnosticIds.BadProgress, value);
            }
        }
    }

    /// <summary>The parsed output options.</summary>
    internal sealed partial class CacheOptions
    {
        /// <summary>EcrCacheProgress: steps (default), quiet or full.</summary>
        public ProgressMode Progress { get; set; }

        /// <summary>EcrCacheBuildkiteLogGroups: in a Buildkite job, put docker's output in a collapsed log group.</summary>
        public bool BuildkiteLogGroups { get; set; } = true;
    }
}
