using System.Text.RegularExpressions;

namespace EcrCache.Registries.Oci
{
    /// <summary>
    /// Repository names and tags as the distribution spec defines them; shared by the registry client (which checks
    /// what it puts into a URL) and the Dockerfile's image references.
    /// </summary>
    internal static class OciNames
    {
        private static readonly Regex RepositoryPattern = new Regex(
            @"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*\z",
            RegexOptions.CultureInvariant);

        private static readonly Regex TagPattern = new Regex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\z", RegexOptions.CultureInvariant);

        /// <summary>A repository path (<c>team/app</c>) of at most 255 characters.</summary>
        public static bool IsRepository(string? name) =>
            !string.IsNullOrEmpty(name) && name!.Length <= 255 && RepositoryPattern.IsMatch(name);

        public static bool IsTag(string? tag) => !string.IsNullOrEmpty(tag) && TagPattern.IsMatch(tag);

        /// <summary>What may follow <c>/manifests/</c>: a tag or a digest.</summary>
        public static bool IsReference(string? reference) => IsTag(reference) || OciDigest.IsValid(reference);
    }
}
