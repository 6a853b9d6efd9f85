namespace EcrCache.Options
{
    /// <summary>
    /// How the pull-or-build step behaves on a hit and on a miss: pull or not, push latest, the layer cache. The retry
    /// and lease settings are in ReliabilityOptions.cs.
    /// </summary>
    internal static class BuildOptions
    {
        public static void Apply(RawOptions raw, CacheOptions options)
        {
            options.SkipPull = Validate.Bool("EcrCacheSkipPull", raw["SkipPull"], false);
            options.PushLatest = Validate.Bool("EcrCachePushLatest", raw["PushLatest"], true);
            options.LayerCache = Validate.Bool("EcrCacheLayerCache", raw["LayerCache"], true);
            var cacheFrom = Validate.Trimmed(raw["CacheFrom"]);
            options.CacheFrom = cacheFrom == null ? null : Validate.Grammar(cacheFrom, Validate.Tag, DiagnosticIds.BadCacheFrom);
            ReliabilityOptions.Apply(raw, options);
        }
    }

    /// <summary>The parsed build options.</summary>
    internal sealed partial class CacheOptions
    {
        public bool SkipPull { get; set; }

        public bool PushLatest { get; set; } = true;

        /// <summary>EcrCacheLayerCache: on a miss, build with --cache-from and inline cache metadata.</summary>
        public bool LayerCache { get; set; } = true;

        /// <summary>EcrCacheCacheFrom: the store tag (or object name) to take layers from on a miss; null = the store's latest.</summary>
        public string? CacheFrom { get; set; }
    }
}
