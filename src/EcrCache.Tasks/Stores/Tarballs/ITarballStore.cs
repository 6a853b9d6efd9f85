namespace EcrCache.Stores.Tarballs
{
    /// <summary>What the tarball stores add to <see cref="Registries.IImageStore"/>: where an entry lives.</summary>
    internal interface ITarballStore
    {
        /// <summary>
        /// The value for Buildkite meta-data (EcrCacheMetadataKey): s3://bucket/key for S3, as the reference S3 plugin
        /// sets it; null to keep the image reference (directory: another agent cannot read this machine's folder).
        /// </summary>
        string? MetaDataValue(string tag);
    }
}
