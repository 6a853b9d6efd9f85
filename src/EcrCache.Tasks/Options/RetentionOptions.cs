namespace EcrCache.Options
{
    /// <summary>
    /// Retention by count (EcrCacheKeepCount, every expiring provider) and the registry provider's opt-in pruning
    /// (EcrCacheRegistryPrune, EcrCacheRegistryPruneGrace). Runs after the provider's own parser, so the provider's
    /// option objects (Gar, Tarball) exist and get the count too.
    /// </summary>
    internal static class RetentionOptions
    {
        public const int KeepCountLimit = 10000;

        /// <summary>How young a tag the registry pruner leaves alone by default: an image another build is still pulling.</summary>
        public static readonly TimeSpan DefaultPruneGrace = TimeSpan.FromHours(1);

        private static readonly TimeSpan MaxPruneGrace = TimeSpan.FromDays(3650);

        public static void Apply(RawOptions raw, CacheOptions options)
        {
            var keep = Validate.Trimmed(raw["KeepCount"]);
            options.KeepCount = keep == null ? 0 : ParseKeepCount(keep);
            if (options.Gar != null)
            {
                options.Gar.KeepCount = options.KeepCount;
            }

            if (options.Tarball != null)
            {
                options.Tarball.KeepCount = options.KeepCount;
            }

            if (options.Provider != ProviderKind.Registry)
            {
                return;
            }

            options.RegistryPrune = Validate.Bool("EcrCacheRegistryPrune", raw["RegistryPrune"], false);
            options.RegistryPruneGrace = ParsePruneGrace(raw["RegistryPruneGrace"]);
            if (!options.RegistryPrune)
            {
                return;
            }

            // The SDK's default of 7 days is for stores that expire by themselves; deleting from a registry that may be
            // shared is only done for an age the user chose.
            var days = Validate.Trimmed(raw["MaxAgeDays"]);
            options.RegistryPruneMaxAgeDays = days == null || raw.IsSdkDefault("EcrCacheMaxAgeDays") ? 0 : EcrOptionsParser.ParseMaxAgeDays(days);
            if (options.KeepCount == 0 && options.RegistryPruneMaxAgeDays == 0)
            {
                throw new EcrCacheException(DiagnosticIds.RegistryPruneNeedsLimit);
            }
        }

        /// <summary>EcrCacheKeepCount (trimmed, non-empty): 1 to <see cref="KeepCountLimit"/>, or BadKeepCount.</summary>
        internal static int ParseKeepCount(string keep) => Validate.Integer(keep, 1, KeepCountLimit, DiagnosticIds.BadKeepCount);

        /// <summary>EcrCacheRegistryPruneGrace: whole minutes or a TimeSpan (0 to 10 years); blank is one hour.</summary>
        internal static TimeSpan ParsePruneGrace(string? value) =>
            Validate.Duration(value, DefaultPruneGrace, TimeSpan.Zero, MaxPruneGrace, DiagnosticIds.BadRegistryPruneGrace);

        /// <summary>True when the registry provider prunes: the provider reads EcrCacheKeepCount and EcrCacheMaxAgeDays then.</summary>
        internal static bool RegistryPrunes(RawOptions raw, string provider)
        {
            if (provider != "registry")
            {
                return false;
            }

            try
            {
                return Validate.Bool("EcrCacheRegistryPrune", raw["RegistryPrune"], false);
            }
            catch (EcrCacheException)
            {
                return false;
            }
        }
    }

    /// <summary>The parsed retention options.</summary>
    internal sealed partial class CacheOptions
    {
        /// <summary>EcrCacheKeepCount: keep the newest N cached images (0: no count limit).</summary>
        public int KeepCount { get; set; }

        /// <summary>EcrCacheRegistryPrune: the registry provider deletes key tags beyond KeepCount or older than RegistryPruneMaxAgeDays.</summary>
        public bool RegistryPrune { get; set; }

        /// <summary>EcrCacheMaxAgeDays as the registry pruner reads it: only a value the user set (0: no age limit).</summary>
        public int RegistryPruneMaxAgeDays { get; set; }

        /// <summary>EcrCacheRegistryPruneGrace: tags younger than this are never pruned.</summary>
        public TimeSpan RegistryPruneGrace { get; set; } = RetentionOptions.DefaultPruneGrace;
    }
}
