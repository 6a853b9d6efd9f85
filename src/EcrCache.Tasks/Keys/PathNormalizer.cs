using System.Text;

namespace EcrCache.Keys
{
    /// <summary>Normalises the relative path that names a CacheOn file in the key manifest.</summary>
    internal static class PathNormalizer
    {
        /// <summary>
        /// Backslashes become '/', "." segments are removed (a leading "./", "a/./b", a trailing "/."), runs of slashes
        /// collapse to one and a trailing slash is dropped. A leading '/' is kept. ".." segments are kept as they are
        /// (collapsing them could be wrong with symbolic links). Case is never changed and no file system access is made.
        /// "." and "" normalise to "".
        /// </summary>
        public static string Normalize(string relativePath)
        {
            if (relativePath == null)
            {
                throw new ArgumentNullException(nameof(relativePath));
            }

            if (IsAlreadyNormal(relativePath))
            {
                return relativePath;
            }

            var path = relativePath.Replace('\\', '/');
            var sb = new StringBuilder(path.Length);
            if (path.StartsWith("/", StringComparison.Ordinal))
            {
                sb.Append('/');
            }

            var rooted = sb.Length == 1;
            var start = 0;
            while (start <= path.Length)
            {
                var end = path.IndexOf('/', start);
                if (end < 0)
                {
                    end = path.Length;
                }

                var length = end - start;
                if (length > 0 && !(length == 1 && path[start] == '.'))
                {
                    if (sb.Length > (rooted ? 1 : 0))
                    {
                        sb.Append('/');
                    }

                    sb.Append(path, start, length);
                }

                start = end + 1;
            }

            return sb.ToString();
        }

        // Fast path: no backslash, no empty or "." segment, no leading/trailing slash.
        private static bool IsAlreadyNormal(string path)
        {
            if (path.Length == 0)
            {
                return true;
            }

            if (path[0] == '/' || path[path.Length - 1] == '/')
            {
                return false;
            }

            var segmentStart = 0;
            for (var i = 0; i <= path.Length; i++)
            {
                if (i == path.Length || path[i] == '/')
                {
                    var length = i - segmentStart;
                    if (length == 0 || (length == 1 && path[segmentStart] == '.'))
                    {
                        return false;
                    }

                    segmentStart = i + 1;
                }
                else if (path[i] == '\\')
                {
                    return false;
                }
            }

            return true;
        }
    }
}
