using System.Text.RegularExpressions;
using EcrCache.Options;

namespace EcrCache.Core
{
    /// <summary>
    /// One MSBuild glob (<c>**</c> spans folders, <c>*</c> and <c>?</c> do not), relative to the project folder or
    /// rooted, expanded by walking the file system. Used for the CacheOn specs that MSBuild cannot expand for us
    /// (<c>**/package.json#.dependencies</c>: MSBuild drops a wildcard that matches no file, and no file is called
    /// that). The walk starts at the pattern's literal leading folders, descends only as deep as the pattern can
    /// match, and skips folders an <c>Exclude</c> of the form <c>dir-glob/**</c> removes whole (node_modules).
    /// Symbolic links to folders are not followed (MSBuild follows them; a link cycle would never end here).
    /// </summary>
    internal sealed class CacheOnGlob
    {
        private readonly string _basePrefix;
        private readonly Regex _rest;
        private readonly int _maxDepth; // folder levels below the base a match can be in; -1: any

        private CacheOnGlob(string baseDirectory, string rest)
        {
            BaseDirectory = baseDirectory;
            _basePrefix = baseDirectory.EndsWith(Path.DirectorySeparatorChar.ToString(), StringComparison.Ordinal)
                ? baseDirectory
                : baseDirectory + Path.DirectorySeparatorChar;
            Rest = rest;
            _rest = CacheOnPatterns.ToRegex(rest);
            _maxDepth = rest.Contains("**") ? -1 : rest.Split('/').Length - 1;
        }

        /// <summary>The folder the walk starts in (full path).</summary>
        public string BaseDirectory { get; }

        /// <summary>The part of the pattern below <see cref="BaseDirectory"/>, '/'-separated.</summary>
        public string Rest { get; }

        public static bool HasWildcard(string pattern) => pattern.IndexOfAny(new[] { '*', '?' }) >= 0;

        /// <summary>The glob of <paramref name="pattern"/>, resolved against <paramref name="projectDirectory"/>.</summary>
        public static CacheOnGlob Create(string projectDirectory, string pattern)
        {
            var normalized = pattern.Trim().Replace('\\', '/');
            var segments = normalized.Split('/');
            var firstWild = -1;
            for (var i = 0; i < segments.Length; i++)
            {
                if (HasWildcard(segments[i]))
                {
                    firstWild = i;
                    break;
                }
            }

            // A literal pattern (an Exclude may be one) is its folder plus its file name.
            var split = firstWild >= 0 ? firstWild : segments.Length - 1;
            var fixedPart = string.Join("/", segments, 0, split);
            if (fixedPart.Length == 0 && normalized.StartsWith("/", StringComparison.Ordinal))
            {
                fixedPart = "/";
            }

            var baseDirectory = Validate.FullPath(projectDirectory, fixedPart.Length == 0 ? "." : fixedPart);
            if (baseDirectory.Length > 1)
            {
                baseDirectory = baseDirectory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
                if (baseDirectory.Length == 0 || baseDirectory[baseDirectory.Length - 1] == ':')
                {
                    baseDirectory += Path.DirectorySeparatorChar; // "/" or "C:\"
                }
            }

            return new CacheOnGlob(baseDirectory, string.Join("/", segments, split, segments.Length - split));
        }

        /// <summary>True when <paramref name="fullPath"/> (a file or folder) is matched by this glob.</summary>
        public bool Matches(string fullPath)
        {
            if (fullPath.Length <= _basePrefix.Length || !fullPath.StartsWith(_basePrefix, Validate.PathComparison))
            {
                return false;
            }

            return _rest.IsMatch(fullPath.Substring(_basePrefix.Length).Replace('\\', '/'));
        }

        /// <summary>
        /// The files this glob matches, minus those an exclude matches, sorted (ordinal). <paramref name="excludes"/>
        /// of the form <c>x/**</c> also stop the walk at the folders <c>x</c> matches.
        /// </summary>
        public List<string> EnumerateFiles(IReadOnlyList<CacheOnGlob> excludes)
        {
            var prune = new List<CacheOnGlob>();
            foreach (var exclude in excludes)
            {
                if (exclude.Rest == "**")
                {
                    prune.Add(exclude); // its base folder and everything below
                }
                else if (exclude.Rest.EndsWith("/**", StringComparison.Ordinal))
                {
                    prune.Add(new CacheOnGlob(exclude.BaseDirectory, exclude.Rest.Substring(0, exclude.Rest.Length - 3)));
                }
            }

            var result = new List<string>();
            if (!Directory.Exists(BaseDirectory))
            {
                return result;
            }

            var pending = new Stack<(string Folder, int Depth)>();
            pending.Push((BaseDirectory, 0));
            while (pending.Count > 0)
            {
                var (folder, depth) = pending.Pop();
                IEnumerable<FileSystemInfo> entries;
                try
                {
                    entries = new DirectoryInfo(folder).EnumerateFileSystemInfos();
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is System.Security.SecurityException)
                {
                    continue; // MSBuild skips folders it cannot read, too
                }

                try
                {
                    foreach (var entry in entries)
                    {
                        var full = entry.FullName;
                        var attributes = entry.Attributes;
                        if ((attributes & FileAttributes.Directory) != 0)
                        {
                            if ((attributes & FileAttributes.ReparsePoint) != 0 || (_maxDepth >= 0 && depth >= _maxDepth))
                            {
                                continue;
                            }

                            if (IsPruned(full, prune))
                            {
                                continue;
                            }

                            pending.Push((full, depth + 1));
                        }
                        else if (Matches(full) && !IsExcluded(full, excludes))
                        {
                            result.Add(full);
                        }
                    }
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is System.Security.SecurityException)
                {
                    // The folder went away or became unreadable while it was listed.
                }
            }

            result.Sort(StringComparer.Ordinal);
            return result;
        }

        private static bool IsPruned(string folder, List<CacheOnGlob> prune)
        {
            foreach (var glob in prune)
            {
                if (glob.Matches(folder) || (glob.Rest == "**" && string.Equals(folder, glob.BaseDirectory, Validate.PathComparison)))
                {
                    return true;
                }
            }

            return false;
        }

        private static bool IsExcluded(string file, IReadOnlyList<CacheOnGlob> excludes)
        {
            foreach (var exclude in excludes)
            {
                if (exclude.Matches(file))
                {
                    return true;
                }
            }

            return false;
        }
    }
}
