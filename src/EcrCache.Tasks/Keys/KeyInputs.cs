namespace EcrCache.Keys
{
    /// <summary>Everything that goes into a cache key. See <see cref="CacheKeyCalculator"/> for how each part is keyed.</summary>
    internal sealed class KeyInputs
    {
        /// <summary>The Dockerfile to hash (streamed). Exactly one of this and <see cref="DockerfileInline"/> is set.</summary>
        public string? DockerfilePath { get; set; }

        /// <summary>Inline Dockerfile text. Keys the same as a file holding the same text in UTF-8.</summary>
        public string? DockerfileInline { get; set; }

        /// <summary>The build target (stage); keyed only when non-empty.</summary>
        public string? Target { get; set; }

        /// <summary>The platform, for example "linux/amd64". Always keyed, as given (also when empty).</summary>
        public string Platform { get; set; } = "";

        /// <summary>
        /// Base images of the Dockerfile: "normalised-reference platform" -> digest (or "image-id ...", "unresolved").
        /// Keyed after the platform, sorted by name; see Keys/BaseImages.
        /// </summary>
        public IList<KeyValuePair<string, string>> BaseImages { get; } = new List<KeyValuePair<string, string>>();

        /// <summary>
        /// Build arguments, NAME -> value; a null value is an unset argument (keyed apart from an empty one). Order does not
        /// matter; values are hashed, never stored in the manifest.
        /// </summary>
        public IList<KeyValuePair<string, string?>> BuildArgs { get; } = new List<KeyValuePair<string, string?>>();

        /// <summary>Extra docker build arguments as text; keyed (hashed) when not empty or white space.</summary>
        public string? AdditionalBuildArgs { get; set; }

        /// <summary>Files whose content (or selected JSON value) is keyed. Order does not matter.</summary>
        public IList<CacheOnInput> CacheOn { get; } = new List<CacheOnInput>();

        /// <summary>
        /// Further inputs from providers (name -> value), for example base image digests. The value is stored in the
        /// manifest as given, so it must not be a secret (hash it first if it could be).
        /// </summary>
        public IList<KeyValuePair<string, string>> ExtraInputs { get; } = new List<KeyValuePair<string, string>>();
    }
}
