using System.Globalization;
using System.Text.RegularExpressions;
using EcrCache.Keys.BaseImages;

namespace EcrCache.Options
{
    /// <summary>Platforms, base-image digests and mirrors, Compose: the parsed values.</summary>
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

        /// <summary>The Compose file and service whose build: section supplied Dockerfile, context, target and args.</summary>
        public string? ComposeFile { get; set; }

        public string? ComposeService { get; set; }
    }

    /// <summary>The key inputs that are not files: platforms, base-image digests and registry mirrors.</summary>
    internal static class KeyFeatureOptions
    {
        private static readonly Regex PlatformPattern = new Regex("^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$", RegexOptions.CultureInvariant);

        public static void Apply(RawOptions raw, CacheOptions options)
        {
            var platform = Validate.Blank(raw["Platform"]);
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

            options.BaseImageDigests = ParseDigestMode(raw["BaseImageDigests"]);
            var minutes = Validate.Blank(raw["BaseImageDigestsCacheMinutes"]);
            if (minutes != null)
            {
                options.BaseImageDigestsCacheMinutes = Validate.Integer(minutes, 0, 10080, DiagnosticIds.BadBaseImageCacheMinutes);
            }

            options.RegistryMirrors = RegistryMirrors.ParseOption(raw["RegistryMirrors"]);
        }

        public static BaseImageDigestMode ParseDigestMode(string? value)
        {
            var text = Validate.Blank(value);
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
    }
}
