using EcrCache.Keys.BaseImages;

namespace EcrCache.Options
{
    /// <summary>EcrCacheExplainImage: the image whose EcrCache labels ExplainCachedImageKey reads and compares with this checkout.</summary>
    internal static class ImageLabelOptions
    {
        public static void Apply(RawOptions raw, CacheOptions options)
        {
            var image = Validate.Trimmed(raw["ExplainImage"]);
            if (image != null && !ImageReference.TryParse(image, out _))
            {
                throw new EcrCacheException(DiagnosticIds.BadExplainImage, image);
            }

            options.ExplainImage = image;
        }
    }

    /// <summary>The parsed image-label options.</summary>
    internal sealed partial class CacheOptions
    {
        /// <summary>EcrCacheExplainImage: an image reference (local or in a registry), or null.</summary>
        public string? ExplainImage { get; set; }
    }
}
