namespace EcrCache.Keys
{
    /// <summary>One CacheOn file that contributes to the cache key.</summary>
    internal sealed class CacheOnInput
    {
        /// <param name="fullPath">The file to read.</param>
        /// <param name="relativePath">
        /// The path that names the file in the key manifest (normally relative to the build context or project folder).
        /// It is normalised with <see cref="PathNormalizer.Normalize"/>, so <c>a\b.json</c> and <c>./a/b.json</c> key the same.
        /// </param>
        /// <param name="jsonPath">
        /// Optional jq-like path (see <see cref="JsonPathSelector"/>): only the selected JSON value is hashed, in canonical form.
        /// Null, empty or white space means "hash the whole file".
        /// </param>
        /// <param name="optional">
        /// The file may be absent (CacheOn metadata Optional="true"): then it is keyed as absent instead of being an error.
        /// </param>
        public CacheOnInput(string fullPath, string relativePath, string? jsonPath = null, bool optional = false)
        {
            if (fullPath == null)
            {
                throw new ArgumentNullException(nameof(fullPath));
            }

            if (fullPath.Length == 0)
            {
                throw new ArgumentException("The full path of a CacheOn file must not be empty.", nameof(fullPath));
            }

            FullPath = fullPath;
            RelativePath = relativePath ?? throw new ArgumentNullException(nameof(relativePath));
            JsonPath = jsonPath;
            Optional = optional;
        }

        public string FullPath { get; }

        /// <summary>The relative path as given (not normalised).</summary>
        public string RelativePath { get; }

        public string? JsonPath { get; }

        /// <summary>True when the file may be absent (keyed as absent); false when a missing file is an error.</summary>
        public bool Optional { get; }

        public override string ToString() =>
            string.IsNullOrWhiteSpace(JsonPath) ? RelativePath : RelativePath + "#" + JsonPath;
    }
}
