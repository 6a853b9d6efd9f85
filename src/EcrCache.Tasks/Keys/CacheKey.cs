using System;

namespace EcrCache.Keys
{
    /// <summary>A computed cache key: the hash of its <see cref="KeyManifest"/> and the image tag derived from it.</summary>
    public sealed class CacheKey
    {
        /// <summary>Derives the key from a manifest (for example one read back with <see cref="KeyManifest.FromJson"/>).</summary>
        public CacheKey(KeyManifest manifest)
        {
            Manifest = manifest ?? throw new ArgumentNullException(nameof(manifest));
            Hash = manifest.ComputeKeyHash();
            Tag = Hash.Substring(0, CacheKeyCalculator.TagLength);
        }

        /// <summary>64 lower-case hex digits.</summary>
        public string Hash { get; }

        /// <summary>The first <see cref="CacheKeyCalculator.TagLength"/> hex digits of <see cref="Hash"/>.</summary>
        public string Tag { get; }

        public KeyManifest Manifest { get; }

        public override string ToString() => Hash;
    }
}
