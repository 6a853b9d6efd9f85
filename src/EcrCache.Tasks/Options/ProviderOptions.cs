using EcrCache.Stores.Ecr;
using EcrCache.Stores.Gar;
using EcrCache.Stores.Tarballs;

namespace EcrCache.Options
{
    /// <summary>The parsed values of the provider checks.</summary>
    internal sealed partial class CacheOptions
    {
        /// <summary>ECRC1030 applies: provider local inside a Buildkite job, and EcrCacheWarnOnLocalInBuildkite is on.</summary>
        public bool LocalInBuildkite { get; set; }

        /// <summary>EcrCacheProvider was not set, so local came from the default.</summary>
        public bool ProviderIsDefault { get; set; }
    }

    /// <summary>
    /// Which provider uses which option, in one table. Each provider's own parser (EcrOptions.cs, GarOptions.cs,
    /// TarballOptions.cs) validates the options it uses; for every other provider this table validates a set value with the same
    /// code (a malformed value is an error whatever the provider) and warns that the provider ignores it (ECRC1029).
    /// Options every provider uses are not listed here: OptionsParser and the other parsers check them for all.
    /// </summary>
    internal static class ProviderOptions
    {
        /// <summary>One option of the table.</summary>
        /// <param name="Property">The MSBuild name: a property, or an item type ("EcrTag items").</param>
        /// <param name="UsedBy">Provider names (<see cref="StoreOptions.Providers"/>) that read the option.</param>
        /// <param name="Validate">Throws the option's coded error for a malformed value; null when it is validated for every provider elsewhere.</param>
        /// <param name="WhyIgnored">Optional reason shown in ECRC1029, given the provider's name.</param>
        /// <param name="AlsoUsedBy">Optional: true when another provider (given its name) reads the option too with these options.</param>
        internal sealed record Row(string Property, Func<RawOptions, bool> IsSet, string[] UsedBy, Action<RawOptions>? Validate, Func<string, string>? WhyIgnored = null, Func<RawOptions, string, bool>? AlsoUsedBy = null);

        private static readonly string[] Registries = { "registry", "ecr", "gar", "gcr" };
        private static readonly string[] Remotes = { "registry", "ecr", "gar", "gcr", "s3", "directory" };
        private static readonly string[] Expiring = { "ecr", "gar", "gcr", "s3", "directory" };
        private static readonly string[] ArtifactRegistry = { "gar", "gcr" };

        /// <summary>The table: option, who reads it, how a value is validated for the providers that do not.</summary>
        internal static readonly IReadOnlyList<Row> Rows = new[]
        {
            // Validated for all providers by OptionsParser (host[:port], booleans, the tag grammar): only the warning here.
            new Row("EcrCacheRegistry", r => Set(r["Registry"]), Registries, null, p => p + " talks to no registry"),
            new Row("EcrCacheRegistryInsecure", r => Set(r["RegistryInsecure"]), Registries, null, p => p + " talks to no registry"),
            new Row("EcrCacheSkipPull", r => Set(r["SkipPull"]), Remotes, null, p => p + " has no remote store to pull from"),
            new Row("EcrCacheCacheFrom", r => Set(r["CacheFrom"]), Remotes, null, p => p + " reuses the daemon's own build cache"),

            new Row("EcrCacheRegion", r => Set(r["Region"]), new[] { "ecr", "s3" }, r => EcrOptionsParser.ValidateRegion(Trim(r["Region"]))),
            new Row("EcrCacheMaxAgeDays", r => Set(r["MaxAgeDays"]), Expiring, r => EcrOptionsParser.ParseMaxAgeDays(Trim(r["MaxAgeDays"])), p => p + " does not expire images", RetentionOptions.RegistryPrunes),
            new Row("EcrCachePullAccounts", r => Set(r["PullAccounts"]), new[] { "ecr" }, r => EcrOptionsParser.ParsePullAccounts(r["PullAccounts"])),
            new Row("EcrCacheEcrEndpoint", r => Set(r["EcrEndpoint"]), new[] { "ecr" }, r => EcrOptionsParser.ValidateEndpoint(Trim(r["EcrEndpoint"]))),
            new Row("EcrTag items", r => r.EcrTags.Count > 0, new[] { "ecr", "gar", "gcr" }, r => EcrOptionsParser.ParseTags(r.EcrTags)),

            new Row("EcrCacheGcpProject", r => Set(r["GcpProject"]), ArtifactRegistry, r => GarOptionsParser.ValidateProject(Trim(r["GcpProject"]))),
            new Row("EcrCacheGarLocation", r => Set(r["GarLocation"]), ArtifactRegistry, r => GarOptionsParser.ValidateLocation(Trim(r["GarLocation"]).ToLowerInvariant())),
            new Row("EcrCacheGarRepository", r => Set(r["GarRepository"]), ArtifactRegistry, r => GarOptionsParser.ValidateRepositoryId(Trim(r["GarRepository"]))),
            new Row("EcrCacheGarEndpoint", r => Set(r["GarEndpoint"]), ArtifactRegistry, r => GarOptionsParser.ParseEndpoint(Trim(r["GarEndpoint"]))),

            new Row("EcrCacheS3Bucket", r => Set(r["S3Bucket"]), new[] { "s3" }, r => TarballOptionsParser.ValidateBucket(Trim(r["S3Bucket"]))),
            new Row("EcrCacheS3Prefix", r => Set(r["S3Prefix"]), new[] { "s3" }, r => TarballOptionsParser.NormalizePrefix(r["S3Prefix"], r["Repository"] ?? "")),
            new Row("EcrCacheDirectory", r => Set(r["CacheDirectory"]), new[] { "directory" }, null),
            new Row("EcrCacheKeepCount", r => Set(r["KeepCount"]), Expiring, r => RetentionOptions.ParseKeepCount(Trim(r["KeepCount"])), p => p + " does not expire images", RetentionOptions.RegistryPrunes),
            new Row("EcrCacheRegistryPrune", r => Set(r["RegistryPrune"]), new[] { "registry" }, r => Validate.Bool("EcrCacheRegistryPrune", r["RegistryPrune"], false), p => p + " is not a registry of its own"),
            new Row("EcrCacheRegistryPruneGrace", r => Set(r["RegistryPruneGrace"]), new[] { "registry" }, r => RetentionOptions.ParsePruneGrace(r["RegistryPruneGrace"]), p => p + " is not a registry of its own"),
            new Row("EcrCacheDirectoryMaxSizeMB", r => Set(r["DirectoryMaxSizeMB"]), new[] { "directory" }, r => TarballOptionsParser.ParseDirectoryMaxSizeMB(Trim(r["DirectoryMaxSizeMB"]))),
        };

        /// <summary>The provider's name as EcrCacheProvider spells it.</summary>
        public static string NameOf(ProviderKind provider) => StoreOptions.Providers[(int)provider];

        /// <summary>
        /// Called once from <see cref="OptionsParser.Parse"/> after every concern's parser: validates the options the
        /// provider ignores (coded errors), warns about those the user set (ECRC1029), and decides ECRC1030.
        /// </summary>
        public static void Apply(RawOptions raw, CacheOptions options, IBuildLog log)
        {
            var provider = NameOf(options.Provider);
            foreach (var row in Rows)
            {
                if (Array.IndexOf(row.UsedBy, provider) >= 0 || !row.IsSet(raw) || row.AlsoUsedBy?.Invoke(raw, provider) == true)
                {
                    continue;
                }

                row.Validate?.Invoke(raw);
                if (!raw.IsSdkDefault(row.Property))
                {
                    var why = row.WhyIgnored == null ? "" : " (" + row.WhyIgnored(provider) + ")";
                    log.Warning(Diagnostic.Create(DiagnosticIds.ProviderOptionIgnored, row.Property, provider, why, JoinNames(row.UsedBy)));
                }
            }

            var warnOnLocal = Validate.Bool("EcrCacheWarnOnLocalInBuildkite", raw["WarnOnLocalInBuildkite"], true);
            options.ProviderIsDefault = !Set(raw["Provider"]) || raw.IsSdkDefault("EcrCacheProvider");
            options.LocalInBuildkite = warnOnLocal
                && options.Provider == ProviderKind.Local
                && string.Equals(raw.Environment("BUILDKITE")?.Trim(), "true", StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>ECRC1030 for these options, or null. The MSBuild task logs it once per build.</summary>
        public static Diagnostic? LocalInBuildkiteWarning(CacheOptions options) =>
            options.LocalInBuildkite
                ? Diagnostic.Create(DiagnosticIds.LocalProviderInBuildkite, options.ProviderIsDefault ? " (the default: EcrCacheProvider is not set)" : "")
                : null;

        private static string JoinNames(string[] names) =>
            names.Length == 1 ? names[0] : string.Join(", ", names, 0, names.Length - 1) + " and " + names[names.Length - 1];

        private static bool Set(string? value) => !string.IsNullOrWhiteSpace(value);

        private static string Trim(string? value) => value!.Trim();
    }
}
