using EcrCache.Keys.BaseImages;

namespace EcrCache.Stores
{
    /// <summary>Where one EcrCacheCacheFrom entry points for a registry store: a tag of its repository or a full reference.</summary>
    internal static class CacheFromSource
    {
        /// <summary>
        /// The repository and tag to HEAD in the registry at <paramref name="host"/>: a tag (null: latest) of
        /// <paramref name="repository"/>, or a full reference on the same host. A null repository: the reference names
        /// another registry (or a digest), which the store cannot look up with its credentials.
        /// </summary>
        public static (string? Repository, string Tag) InRegistry(string? cacheFrom, string host, string repository)
        {
            if (cacheFrom == null || cacheFrom.IndexOf('/') < 0)
            {
                return (repository, cacheFrom ?? "latest");
            }

            if (ImageReference.TryParse(cacheFrom, out var reference) && reference!.Tag != null && reference.Digest == null
                && string.Equals(reference.Domain, host, StringComparison.OrdinalIgnoreCase))
            {
                return (reference.Path, reference.Tag);
            }

            return (null, "");
        }
    }
}
