namespace EcrCache.Stores
{
    /// <summary>
    /// Where cached images live. A store names the image, answers whether a tag exists remotely without pulling it,
    /// fetches a hit into the local daemon and publishes a freshly built image. Registry providers (OCI, ECR, Artifact
    /// Registry) and tarball stores (S3, a directory) implement it; the engine does the rest.
    /// </summary>
    internal interface IImageStore : IDisposable
    {
        /// <summary>The image name (without tag) that docker knows the cached image by.</summary>
        string Image { get; }

        /// <summary>For logs: "local daemon", "registry 127.0.0.1:5000", ...</summary>
        string Description { get; }

        /// <summary>False when the store is the local daemon itself (nothing to look up, pull or push).</summary>
        bool HasRemote { get; }

        /// <summary>One-time set-up before lookups: credentials, repository creation, expiry policy.</summary>
        Task PrepareAsync(CancellationToken cancellationToken);

        /// <summary>Whether the tag exists in the store, by metadata only (never a pull).</summary>
        Task<bool> ExistsAsync(string tag, CancellationToken cancellationToken);

        /// <summary>Brings a tag that exists in the store into the local daemon.</summary>
        Task FetchAsync(string tag, CancellationToken cancellationToken);

        /// <summary>Publishes the locally built image:tag (and latest when asked). Throws when it did not fully succeed.</summary>
        Task PublishAsync(string tag, bool updateLatest, CancellationToken cancellationToken);

        /// <summary>
        /// Points each of <paramref name="tags"/> (ImageTag items) at the image stored under <paramref name="tag"/>, which
        /// exists: the same manifest digest in a registry, a copy of the entry in a tarball store, docker tag locally.
        /// Throws ECRC1231 when the store refuses.
        /// </summary>
        Task TagAsync(string tag, IReadOnlyList<string> tags, CancellationToken cancellationToken);

        /// <summary>Makes the layer-cache source for a miss available and returns the image reference to pass as --cache-from, or null when there is none. cacheFrom is one EcrCacheCacheFrom entry (a tag/object name such as latest, or a full reference with a registry host); null means the store's default (its latest).</summary>
        Task<string?> PrepareCacheFromAsync(string? cacheFrom, CancellationToken cancellationToken);
    }
}
