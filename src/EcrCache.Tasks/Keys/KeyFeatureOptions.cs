using System.Globalization;
using System.Text.RegularExpressions;
using EcrCache.Diagnostics;
using EcrCache.Keys.BaseImages;

namespace EcrCache.Core
{
    /// <summary>Base-image digests, platforms, layer cache and Compose: the raw property values.</summary>
    internal sealed partial class RawOptions
    {
        public string? Platform { get; set; }
        public string? BaseImageDigests { get; set; }
        public string? BaseImageDigestsCacheMinutes { get; set; }
        public string? RegistryMirrors { get; set; }
        public string? LayerCache { get; set; }
        public string? CacheFrom { get; set; }
        public string? ComposeFile { get; set; }
        public string? ComposeService { get; set; }
    }

    /// <summary>Base-image digests, platforms, layer cache and Compose: the parsed values.</summary>
    internal sealed partial class CacheOptions
    {
        /// <summary>EcrCachePlatform normalised (lower case; a list sorted and comma-joined), or null for the daemon's.</summary>
        public string? Platform { get; set; }

        /// <summary>The platforms of <see cref="Platform"/>; empty when it is null.</summary>
        public IList<string> Platforms { get; } = new List<string>();

        public bool IsMultiPlatform => Platforms.Count > 1;

        public BaseImageDigestMode BaseImageDigests { get; set; } = BaseImageDigestMode.On;

        /// <summary>How long resolved base digests are reused from obj/ecrcache/base-images.json; 0 = always look up.</summary>
        public int BaseImageDigestsCacheMinutes { get; set; } = 10;

        /// <summary>EcrCacheRegistryMirrors: the mirrors for docker.io base images; null = the daemon's, empty = none.</summary>
        public IReadOnlyList<Registries.Oci.RegistryEndpoint>? RegistryMirrors { get; set; }

        /// <summary>EcrCacheLayerCache: on a miss, build with --cache-from and inline cache metadata.</summary>
        public bool LayerCache { get; set; } = true;

        /// <summary>EcrCacheCacheFrom: the store tag (or object name) to take layers from on a miss; null = the store's latest.</summary>
        public string? CacheFrom { get; set; }

        /// <summary>The Compose file and service whose build: section supplied Dockerfile, context, target and args.</summary>
        public string? ComposeFile { get; set; }

        public string? ComposeService { get; set; }
    }

    /// <summary>Parses the key-feature properties (kept apart from <see cref="OptionsParser"/> so its edits stay small).</summary>
    internal static class KeyFeatureOptionsParser
    {
        private static readonly Regex PlatformPattern = new Regex("^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$", RegexOptions.CultureInvariant);
        private static readonly Regex TagPattern = new Regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", RegexOptions.CultureInvariant);

        public static void Apply(RawOptions raw, CacheOptions options)
        {
            var platform = Blank(raw.Platform);
            if (platform != null)
            {
                var list = new SortedSet<string>(StringComparer.Ordinal);
                foreach (var part in platform.Split(','))
                {
                    var p = BaseImageResolver.NormalizePlatform(part);
                    if (!PlatformPattern.IsMatch(p))
                    {
                        throw new EcrCacheException(DiagnosticIds.BadPlatform, platform);
                    }

                    list.Add(p);
                }

                foreach (var p in list)
                {
                    options.Platforms.Add(p);
                }

                options.Platform = string.Join(",", list);
            }

            options.BaseImageDigests = ParseDigestMode(raw.BaseImageDigests);
            var minutes = Blank(raw.BaseImageDigestsCacheMinutes);
            if (minutes != null)
            {
                if (!int.TryParse(minutes.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var m) || m > 10080)
                {
                    throw new EcrCacheException(DiagnosticIds.BadBaseImageCacheMinutes, minutes);
                }

                options.BaseImageDigestsCacheMinutes = m;
            }

            options.RegistryMirrors = RegistryMirrors.ParseOption(raw.RegistryMirrors);
            options.LayerCache = OptionsParser.ParseBool("EcrCacheLayerCache", raw.LayerCache, true);
            var cacheFrom = Blank(raw.CacheFrom);
            if (cacheFrom != null)
            {
                cacheFrom = cacheFrom.Trim();
                if (!TagPattern.IsMatch(cacheFrom))
                {
                    throw new EcrCacheException(DiagnosticIds.BadCacheFrom, cacheFrom);
                }

                options.CacheFrom = cacheFrom;
            }
        }

        public static BaseImageDigestMode ParseDigestMode(string? value)
        {
            var text = Blank(value);
            if (text == null)
            {
                return BaseImageDigestMode.On;
            }

            switch (text.Trim().ToLowerInvariant())
            {
                case "true":
                case "1":
                case "yes":
                case "on":
                    return BaseImageDigestMode.On;
                case "false":
                case "0":
                case "no":
                case "off":
                    return BaseImageDigestMode.Off;
                case "besteffort":
                case "best-effort":
                    return BaseImageDigestMode.BestEffort;
                default:
                    throw new EcrCacheException(DiagnosticIds.BadBaseImageDigests, text);
            }
        }

        private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
    }
}
