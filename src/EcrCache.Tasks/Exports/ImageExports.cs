namespace EcrCache.Exports
{
    /// <summary>The variables EcrCache exports once it has resolved an image.</summary>
    internal static class ImageExports
    {
        /// <summary>The image repository without tag, as the docker-ecr-cache Buildkite plugin exports it.</summary>
        public const string ImageVariable = "BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE";

        /// <summary>The tag alone.</summary>
        public const string TagVariable = "BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_TAG";

        /// <summary>
        /// <c>[exportVariable = image:tag, ImageVariable = image, TagVariable = tag]</c>, in that order. When
        /// <paramref name="exportVariable"/> is one of the fixed names it is listed once, with the value the user
        /// asked for (<c>image:tag</c>).
        /// </summary>
        public static IReadOnlyList<KeyValuePair<string, string>> Variables(string exportVariable, string image, string tag)
        {
            if (string.IsNullOrEmpty(exportVariable))
            {
                throw new ArgumentException("The export variable name is empty.", nameof(exportVariable));
            }

            if (string.IsNullOrEmpty(image))
            {
                throw new ArgumentException("The image is empty.", nameof(image));
            }

            if (string.IsNullOrEmpty(tag))
            {
                throw new ArgumentException("The tag is empty.", nameof(tag));
            }

            var result = new List<KeyValuePair<string, string>>(3)
            {
                new KeyValuePair<string, string>(exportVariable, image + ":" + tag),
            };
            if (!string.Equals(exportVariable, ImageVariable, StringComparison.Ordinal))
            {
                result.Add(new KeyValuePair<string, string>(ImageVariable, image));
            }

            if (!string.Equals(exportVariable, TagVariable, StringComparison.Ordinal))
            {
                result.Add(new KeyValuePair<string, string>(TagVariable, tag));
            }

            return result;
        }
    }
}
