namespace EcrCache.Registries.Oci
{
    /// <summary>What a registry says about a manifest without sending it (HEAD).</summary>
    /// <param name="Digest">The content digest, e.g. <c>sha256:1c32...</c> (from Docker-Content-Digest).</param>
    /// <param name="MediaType">The manifest's media type (Content-Type); empty if the registry did not say.</param>
    /// <param name="Size">The manifest's size in bytes (Content-Length), or -1 if unknown.</param>
    internal sealed record ManifestInfo(string Digest, string MediaType, long Size)
    {
        public override string ToString() => Digest + " (" + MediaType + ", " + Size + " bytes)";
    }

    /// <summary>Manifest media types, and the Accept list used to fetch manifests.</summary>
    internal static class ManifestMediaTypes
    {
        public const string OciIndex = "application/vnd.oci.image.index.v1+json";
        public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
        public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
        public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
        public const string DockerManifestV1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";

        /// <summary>In order of preference; schema 1 (signed) only as a last resort.</summary>
        public static IReadOnlyList<string> Accept { get; } = new[]
        {
            OciIndex,
            OciManifest,
            DockerManifestList,
            DockerManifest,
            DockerManifestV1Signed,
        };

        /// <summary>True for an image index / manifest list (multi-platform).</summary>
        public static bool IsIndex(string? mediaType) =>
            string.Equals(mediaType, OciIndex, StringComparison.OrdinalIgnoreCase)
            || string.Equals(mediaType, DockerManifestList, StringComparison.OrdinalIgnoreCase);
    }
}
