namespace EcrCache.Options
{
    /// <summary>
    /// How the pull-or-build step behaves on a hit and on a miss: pull or not, push latest, the layer cache, whether the
    /// store may be written (EcrCachePush) and whether a miss may build at all (EcrCacheRequireHit). The retry and lease
    /// settings are in ReliabilityOptions.cs, the extra tags in TagOptions.cs.
    /// </summary>
    internal static class BuildOptions
    {
        public static void Apply(RawOptions raw, CacheOptions options)
        {
            options.SkipPull = Validate.Bool("EcrCacheSkipPull", raw["SkipPull"], false);
            options.PushLatest = Validate.Bool("EcrCachePushLatest", raw["PushLatest"], true);
            options.LayerCache = Validate.Bool("EcrCacheLayerCache", raw["LayerCache"], true);
            options.Push = Validate.Bool("EcrCachePush", raw["Push"], true);
            options.RequireHit = Validate.Bool("EcrCacheRequireHit", raw["RequireHit"], false);
            options.CacheFromSources = ParseCacheFrom(raw["CacheFrom"]);
            ReliabilityOptions.Apply(raw, options);
        }

        /// <summary>
        /// EcrCacheCacheFrom: ';'-separated, in order, blanks and repeats dropped. Each entry is a tag of the store or a
        /// full reference that names its registry host (<c>registry.example.com/team/app:main</c>); anything else
        /// (<c>repo:tag</c>, which docker would read as Docker Hub) is ECRC1022.
        /// </summary>
        internal static IReadOnlyList<string> ParseCacheFrom(string? value)
        {
            var sources = new List<string>();
            foreach (var part in (value ?? "").Split(';'))
            {
                var entry = part.Trim();
                if (entry.Length == 0 || sources.Contains(entry, StringComparer.Ordinal))
                {
                    continue;
                }

                if (!Validate.Tag.IsMatch(entry) && !IsFullReference(entry))
                {
                    throw new EcrCacheException(DiagnosticIds.BadCacheFrom, entry);
                }

                sources.Add(entry);
            }

            return sources;
        }

        /// <summary>A reference whose first path component is a registry host (a dot, a port or localhost), as docker reads it.</summary>
        internal static bool IsFullReference(string entry)
        {
            var slash = entry.IndexOf('/');
            if (slash <= 0)
            {
                return false;
            }

            var host = entry.Substring(0, slash);
            return (host.IndexOf('.') >= 0 || host.IndexOf(':') >= 0 || host == "localhost")
                && Validate.RegistryHost.IsMatch(host)
                && Keys.BaseImages.ImageReference.TryParse(entry, out _);
        }
    }

    /// <summary>The parsed build options.</summary>
    internal sealed partial class CacheOptions
    {
        public bool SkipPull { get; set; }

        public bool PushLatest { get; set; } = true;

        /// <summary>EcrCacheLayerCache: on a miss, build with --cache-from and inline cache metadata.</summary>
        public bool LayerCache { get; set; } = true;

        /// <summary>
        /// EcrCacheCacheFrom: the store tags (or object names) and full references to take layers from on a miss, in
        /// order; empty = the store's latest.
        /// </summary>
        public IReadOnlyList<string> CacheFromSources { get; set; } = Array.Empty<string>();

        /// <summary>
        /// EcrCachePush (default true). False: a miss is built and used, but nothing is written to the store: no push,
        /// no latest, no extra tags, no lease, no expiry policy, no repository created where that can be avoided.
        /// </summary>
        public bool Push { get; set; } = true;

        /// <summary>EcrCacheRequireHit: a miss is ECRC1230 before anything is built.</summary>
        public bool RequireHit { get; set; }
    }
}
