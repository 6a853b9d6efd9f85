using EcrCache.Core;

namespace EcrCache.Tasks
{
    /// <summary>The key-feature parameters: platform, base-image digests, layer cache, Compose, explain.</summary>
    public sealed partial class EnsureCachedImage
    {
        /// <summary>EcrCachePlatform.</summary>
        public string? Platform { get; set; }

        /// <summary>EcrCacheBaseImageDigests: true, false or BestEffort.</summary>
        public string? BaseImageDigests { get; set; }

        /// <summary>EcrCacheBaseImageDigestsCacheMinutes.</summary>
        public string? BaseImageDigestsCacheMinutes { get; set; }

        /// <summary>EcrCacheRegistryMirrors.</summary>
        public string? RegistryMirrors { get; set; }

        /// <summary>EcrCacheLayerCache.</summary>
        public string? LayerCache { get; set; }

        /// <summary>EcrCacheCacheFrom.</summary>
        public string? CacheFrom { get; set; }

        /// <summary>EcrCacheComposeFile.</summary>
        public string? ComposeFile { get; set; }

        /// <summary>EcrCacheComposeService.</summary>
        public string? ComposeService { get; set; }

        /// <summary>ExplainCachedImageKey: print the manifest and the changes; no docker, no registry, nothing written.</summary>
        public bool Explain { get; set; }

        private void CopyKeyFeatures(RawOptions raw)
        {
            raw.Platform = Platform;
            raw.BaseImageDigests = BaseImageDigests;
            raw.BaseImageDigestsCacheMinutes = BaseImageDigestsCacheMinutes;
            raw.RegistryMirrors = RegistryMirrors;
            raw.LayerCache = LayerCache;
            raw.CacheFrom = CacheFrom;
            raw.ComposeFile = ComposeFile;
            raw.ComposeService = ComposeService;
        }
    }
}
