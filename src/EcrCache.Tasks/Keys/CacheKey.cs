namespace EcrCache.Keys
{
    /// <summary>A computed cache key: the hash of its <see cref="KeyManifest"/> and the image tag derived from it.</summary>
    internal sealed class CacheKey
    {
        private readonly Func<KeyManifest>? _loadManifest;
        private KeyManifest? _manifest;

        /// <summary>Derives the key from a manifest (for example one read back with <see cref="KeyManifest.FromJson"/>).</summary>
        public CacheKey(KeyManifest manifest)
        {
            _manifest = manifest ?? throw new ArgumentNullException(nameof(manifest));
            Hash = manifest.ComputeKeyHash();
            Tag = Hash.Substring(0, CacheKeyCalculator.TagLength);
        }

        /// <summary>
        /// A key remembered by the input stamp: the manifest is only read (with <paramref name="loadManifest"/>) when
        /// someone asks for it, which a no-op does not.
        /// </summary>
        internal CacheKey(string hash, Func<KeyManifest> loadManifest)
        {
            Hash = hash ?? throw new ArgumentNullException(nameof(hash));
            Tag = Hash.Substring(0, CacheKeyCalculator.TagLength);
            _loadManifest = loadManifest ?? throw new ArgumentNullException(nameof(loadManifest));
        }

        /// <summary>64 lower-case hex digits.</summary>
        public string Hash { get; }

        /// <summary>The first <see cref="CacheKeyCalculator.TagLength"/> hex digits of <see cref="Hash"/>.</summary>
        public string Tag { get; }

        public KeyManifest Manifest => _manifest ??= _loadManifest!();

        public override string ToString() => Hash;
    }
}
