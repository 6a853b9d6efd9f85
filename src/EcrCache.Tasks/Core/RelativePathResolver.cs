using EcrCache.Keys;
using EcrCache.Options;

namespace EcrCache.Core
{
    /// <summary>
    /// <see cref="OptionsParser.RelativePath"/> for many files under one folder: the folder is resolved once, and a path
    /// that is already full and normal (what MSBuild's FullPath metadata gives) is not resolved again. With 22,000
    /// CacheOn items the two <c>Path.GetFullPath</c> calls per item were a measurable part of the task's time.
    /// </summary>
    internal sealed class RelativePathResolver
    {
        private readonly string _baseDirectory;
        private readonly string _basePrefix;

        public RelativePathResolver(string baseDirectory)
        {
            _baseDirectory = baseDirectory;
            var full = Path.GetFullPath(baseDirectory);
            _basePrefix = (full.Length > 1 ? full.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar) : full) + Path.DirectorySeparatorChar;
        }

        [System.Runtime.CompilerServices.MethodImpl(JitHints.OptimizeNow)]
        public string Of(string fullPath)
        {
            if (fullPath.Length > _basePrefix.Length && fullPath.StartsWith(_basePrefix, Validate.PathComparison) && IsFullAndNormal(fullPath))
            {
                return PathNormalizer.Normalize(fullPath.Substring(_basePrefix.Length));
            }

            return InputOptions.RelativePath(_baseDirectory, fullPath);
        }

        // True when Path.GetFullPath would return the path unchanged: rooted, no "." or ".." segment, no doubled
        // separator, and (on Windows) no forward slash. Anything else takes the slow, exact route.
        [System.Runtime.CompilerServices.MethodImpl(JitHints.OptimizeNow)]
        private static bool IsFullAndNormal(string path)
        {
            if (!Path.IsPathRooted(path))
            {
                return false;
            }

            var separator = Path.DirectorySeparatorChar;
            if (separator == '\\' && path.IndexOf('/') >= 0)
            {
                return false;
            }

            var segmentStart = -1;
            for (var i = 0; i <= path.Length; i++)
            {
                if (i == path.Length || path[i] == separator)
                {
                    var length = i - segmentStart - 1;
                    if (segmentStart >= 0)
                    {
                        if (length == 0 && i != path.Length)
                        {
                            return false;
                        }

                        if ((length == 1 && path[segmentStart + 1] == '.') || (length == 2 && path[segmentStart + 1] == '.' && path[segmentStart + 2] == '.'))
                        {
                            return false;
                        }
                    }

                    segmentStart = i;
                }
            }

            return path[path.Length - 1] != separator;
        }
    }
}
