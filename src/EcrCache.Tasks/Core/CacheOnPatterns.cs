using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using EcrCache.Keys;

namespace EcrCache.Core
{
    /// <summary>
    /// MSBuild expands a CacheOn glob while it evaluates the project and silently drops one that matches nothing.
    /// To warn about such a pattern we read the CacheOn includes written in the project file itself and check that
    /// each wildcard pattern matched at least one of the files we received. Patterns built from properties or
    /// items ($(...), @(...)) and items from imported files are not checked.
    /// </summary>
    public static class CacheOnPatterns
    {
        public static IReadOnlyList<string> FindUnmatched(string projectFile, string projectDirectory, IEnumerable<CacheOnInput> matched)
        {
            var patterns = ReadPatterns(projectFile);
            if (patterns.Count == 0)
            {
                return Array.Empty<string>();
            }

            var relative = new RelativePathResolver(projectDirectory);
            var paths = matched.Select(m => relative.Of(m.FullPath)).ToList();
            var unmatched = new List<string>();
            foreach (var pattern in patterns)
            {
                var regex = ToRegex(pattern);
                if (!paths.Any(p => regex.IsMatch(p)))
                {
                    unmatched.Add(pattern);
                }
            }

            return unmatched;
        }

        internal static IReadOnlyList<string> ReadPatterns(string projectFile)
        {
            var result = new List<string>();
            if (!File.Exists(projectFile))
            {
                return result;
            }

            XDocument doc;
            try
            {
                doc = XDocument.Load(projectFile);
            }
            catch (XmlException)
            {
                return result;
            }

            foreach (var element in doc.Descendants().Where(e => e.Name.LocalName == "CacheOn"))
            {
                // A pattern under a Condition may be switched off on purpose: only unconditional ones are checked.
                if (element.AncestorsAndSelf().Any(e => e.Attribute("Condition") != null))
                {
                    continue;
                }

                var include = (string?)element.Attribute("Include");
                if (include == null || include.Contains("$(") || include.Contains("@(") || include.Contains("%("))
                {
                    continue;
                }

                foreach (var part in include.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries))
                {
                    var pattern = part.Trim();
                    if (pattern.IndexOfAny(new[] { '*', '?' }) >= 0 && !Path.IsPathRooted(pattern))
                    {
                        result.Add(pattern);
                    }
                }
            }

            return result;
        }

        /// <summary>MSBuild glob semantics over '/'-separated relative paths: ** spans folders, * and ? do not.</summary>
        public static Regex ToRegex(string pattern)
        {
            var normalized = PathNormalizer.Normalize(pattern);
            var sb = new StringBuilder("^");
            for (var i = 0; i < normalized.Length; i++)
            {
                var c = normalized[i];
                if (c == '*' && i + 1 < normalized.Length && normalized[i + 1] == '*')
                {
                    var followedBySlash = i + 2 < normalized.Length && normalized[i + 2] == '/';
                    sb.Append(followedBySlash ? "(?:.*/)?" : ".*");
                    i += followedBySlash ? 2 : 1;
                }
                else if (c == '*')
                {
                    sb.Append("[^/]*");
                }
                else if (c == '?')
                {
                    sb.Append("[^/]");
                }
                else
                {
                    sb.Append(Regex.Escape(c.ToString()));
                }
            }

            sb.Append('$');
            var options = Path.DirectorySeparatorChar == '\\' ? RegexOptions.IgnoreCase : RegexOptions.None;
            return new Regex(sb.ToString(), options | RegexOptions.CultureInvariant);
        }
    }
}
