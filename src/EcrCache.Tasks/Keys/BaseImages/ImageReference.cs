using EcrCache.Registries.Oci;

namespace EcrCache.Keys.BaseImages
{
    /// <summary>
    /// An image reference normalised the way docker does: <c>node:20</c> is
    /// <c>docker.io/library/node:20</c>, <c>user/app</c> is <c>docker.io/user/app:latest</c>, and a first path
    /// component with a dot, a colon or <c>localhost</c> is a registry host. Docker Hub's API host is
    /// <c>registry-1.docker.io</c> (see <see cref="ApiHost"/>). Paths, tags and digests follow the same grammar as the
    /// registry client's (<see cref="OciNames"/>, <see cref="OciDigest"/>).
    /// </summary>
    internal sealed class ImageReference
    {
        public const string DockerHubDomain = "docker.io";
        public const string DockerHubApiHost = "registry-1.docker.io";

        private ImageReference(string domain, string path, string? tag, string? digest)
        {
            Domain = domain;
            Path = path;
            Tag = tag;
            Digest = digest;
        }

        /// <summary>The registry as docker names it: <c>docker.io</c> for Docker Hub, else host[:port].</summary>
        public string Domain { get; }

        /// <summary>The repository path, e.g. <c>library/node</c>.</summary>
        public string Path { get; }

        /// <summary>The tag (<c>latest</c> when neither a tag nor a digest is given), or null for a digest-only reference.</summary>
        public string? Tag { get; }

        /// <summary>The pinned digest (<c>sha256:...</c>), or null.</summary>
        public string? Digest { get; }

        /// <summary>Where the v2 API is: <c>registry-1.docker.io</c> for Docker Hub, else <see cref="Domain"/>.</summary>
        public string ApiHost => Domain == DockerHubDomain ? DockerHubApiHost : Domain;

        /// <summary>The tag or digest to ask the registry for (the digest wins).</summary>
        public string Reference => Digest ?? Tag!;

        /// <summary>domain/path[:tag][@digest], fully qualified.</summary>
        public override string ToString() => Domain + "/" + Path + (Tag != null ? ":" + Tag : "") + (Digest != null ? "@" + Digest : "");

        public static bool TryParse(string text, out ImageReference? reference)
        {
            reference = null;
            if (string.IsNullOrWhiteSpace(text))
            {
                return false;
            }

            var rest = text.Trim();
            string? digest = null;
            var at = rest.IndexOf('@');
            if (at >= 0)
            {
                digest = rest.Substring(at + 1);
                rest = rest.Substring(0, at);
                if (!OciDigest.IsValid(digest))
                {
                    return false;
                }
            }

            string? tag = null;
            var lastSlash = rest.LastIndexOf('/');
            var colon = rest.LastIndexOf(':');
            if (colon > lastSlash)
            {
                tag = rest.Substring(colon + 1);
                rest = rest.Substring(0, colon);
                if (!OciNames.IsTag(tag))
                {
                    return false;
                }
            }

            string domain;
            string path;
            var slash = rest.IndexOf('/');
            var first = slash < 0 ? rest : rest.Substring(0, slash);
            if (slash >= 0 && (first.IndexOf('.') >= 0 || first.IndexOf(':') >= 0 || first == "localhost" || first.ToLowerInvariant() != first))
            {
                domain = first;
                path = rest.Substring(slash + 1);
            }
            else
            {
                domain = DockerHubDomain;
                path = rest;
            }

            if (domain == "index.docker.io" || domain == DockerHubApiHost)
            {
                domain = DockerHubDomain;
            }

            if (domain == DockerHubDomain && path.IndexOf('/') < 0)
            {
                path = "library/" + path;
            }

            if (!OciNames.IsRepository(path))
            {
                return false;
            }

            if (tag == null && digest == null)
            {
                tag = "latest";
            }

            reference = new ImageReference(domain, path, tag, digest);
            return true;
        }
    }
}
