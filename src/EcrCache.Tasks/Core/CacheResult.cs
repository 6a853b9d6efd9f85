using EcrCache.Keys;

namespace EcrCache.Core
{
    /// <summary>What EnsureCachedImage resolved.</summary>
    internal sealed class CacheResult
    {
        public const string HitLocal = "hit-local";
        public const string HitPulled = "hit-pulled";
        public const string HitNotPulled = "hit-not-pulled";
        public const string Built = "built";

        public CacheResult(string image, string tag, string result, CacheKey key) => (Image, Tag, Result, Key) = (image, tag, result, key);

        public string Image { get; }

        public string Tag { get; }

        public string Reference => Image + ":" + Tag;

        /// <summary>hit-local, hit-pulled, hit-not-pulled or built.</summary>
        public string Result { get; }

        public CacheKey Key { get; }
    }
}
