using EcrCache.Keys;

namespace EcrCache.Core
{
    /// <summary>What EnsureCachedImage resolved.</summary>
    /// <param name="Result">hit-local, hit-pulled, hit-not-pulled, built or built-not-pushed.</param>
    internal sealed record CacheResult(string Image, string Tag, string Result, CacheKey Key)
    {
        public const string HitLocal = "hit-local";
        public const string HitPulled = "hit-pulled";
        public const string HitNotPulled = "hit-not-pulled";
        public const string Built = "built";

        /// <summary>EcrCachePush=false: built on a miss and used, not written to the store.</summary>
        public const string BuiltNotPushed = "built-not-pushed";

        public string Reference => Image + ":" + Tag;
    }
}
