using System.Text;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using EcrCache.Keys;
using EcrCache.Options;

namespace EcrCache.Core
{
    /// <summary>
    /// MSBuild expands a CacheOn glob while it evaluates the project and silently drops one that matches nothing.
    /// So we read the CacheOn includes written in the project file itself:
    /// <list type="bullet">
    /// <item>to warn about a wildcard pattern that matched none of the files we received (ECRC1104). Patterns built
    /// from properties or items ($(...), @(...)) and items from imported files are not checked;</item>
    /// <item>to find the reference plugin's <c>glob#.jsonpath</c> specs (<c>**/package.json#.dependencies</c>), which
    /// MSBuild always drops (no file is called that): <see cref="CacheOnHashSpecs"/> expands them itself. One it
    /// cannot evaluate (under a Condition, inside a Target, built from $(...), @(...) or %) is an error there.</item>
    /// </list>
    /// </summary>
    internal static class CacheOnPatterns
    {
        public static IReadOnlyList<string> FindUnmatched(string projectFile, string projectDirectory, IEnumerable<CacheOnInput> matched) =>
            FindUnmatched(ProjectCacheOnItems.Read(projectFile), projectDirectory, matched);

        internal static IReadOnlyList<string> FindUnmatched(ProjectCacheOnItems items, string projectDirectory, IEnumerable<CacheOnInput> matched)
        {
            var patterns = items.Patterns;
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

        internal static IReadOnlyList<string> ReadPatterns(string projectFile) => ProjectCacheOnItems.Read(projectFile).Patterns;

        /// <summary>
        /// Splits a CacheOn spec of the reference plugin's form <c>path#.jsonpath</c> at the first '#' that a '.'
        /// follows (a JsonPath starts with '.'). False when there is no such '#'.
        /// </summary>
        public static bool TrySplitJsonPath(string spec, out string path, out string jsonPath)
        {
            for (var i = spec.IndexOf('#'); i >= 0; i = spec.IndexOf('#', i + 1))
            {
                var rest = spec.Substring(i + 1).TrimStart();
                if (i > 0 && rest.Length > 0 && rest[0] == '.')
                {
                    path = spec.Substring(0, i).Trim();
                    jsonPath = rest.TrimEnd();
                    return path.Length > 0;
                }
            }

            path = spec;
            jsonPath = "";
            return false;
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

    /// <summary>A <c>glob#.jsonpath</c> CacheOn spec written in the project file (see <see cref="CacheOnHashSpecs"/>).</summary>
    /// <param name="Spec">The Include part as written, e.g. <c>**/package.json#.dependencies</c>.</param>
    /// <param name="PathPattern">The glob before the '#'.</param>
    /// <param name="JsonPath">The JsonPath after the '#'.</param>
    /// <param name="Excludes">The element's Exclude patterns.</param>
    /// <param name="Line">Line of the CacheOn element in the project file (0 when unknown).</param>
    /// <param name="NotEvaluable">Why EcrCache cannot evaluate it ("it is under a Condition", ...), or null.</param>
    /// <param name="JsonPathMetadata">The element's own JsonPath metadata (attribute or child element), or null.</param>
    internal sealed record HashGlobSpec(
        string Spec, string PathPattern, string JsonPath, IReadOnlyList<string> Excludes, int Line, string? NotEvaluable, string? JsonPathMetadata);

    /// <summary>What the project file itself writes about CacheOn: plain wildcard patterns and <c>#</c> globs.</summary>
    internal sealed class ProjectCacheOnItems
    {
        public static readonly ProjectCacheOnItems None = new ProjectCacheOnItems(Array.Empty<string>(), Array.Empty<HashGlobSpec>());

        private ProjectCacheOnItems(IReadOnlyList<string> patterns, IReadOnlyList<HashGlobSpec> hashGlobs)
        {
            Patterns = patterns;
            HashGlobs = hashGlobs;
        }

        /// <summary>Unconditional relative wildcard includes without expressions and without '#' (checked for ECRC1104).</summary>
        public IReadOnlyList<string> Patterns { get; }

        /// <summary>Wildcard includes with a '#' JsonPath, which MSBuild never passes on.</summary>
        public IReadOnlyList<HashGlobSpec> HashGlobs { get; }

        public static ProjectCacheOnItems Read(string projectFile)
        {
            if (!File.Exists(projectFile))
            {
                return None;
            }

            XDocument doc;
            try
            {
                doc = XDocument.Load(projectFile, LoadOptions.SetLineInfo);
            }
            catch (XmlException)
            {
                return None;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return None;
            }

            var patterns = new List<string>();
            var hashGlobs = new List<HashGlobSpec>();
            foreach (var element in doc.Descendants().Where(e => e.Name.LocalName == "CacheOn"))
            {
                var include = (string?)element.Attribute("Include");
                if (include == null)
                {
                    continue;
                }

                // A pattern under a Condition may be switched off on purpose: only unconditional ones are checked.
                var conditional = element.AncestorsAndSelf().Any(e => e.Attribute("Condition") != null);
                var inTarget = element.Ancestors().Any(e => e.Name.LocalName == "Target");
                var exclude = (string?)element.Attribute("Exclude");
                var expressions = HasExpression(include);
                foreach (var part in include.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries))
                {
                    var pattern = part.Trim();
                    if (!CacheOnGlob.HasWildcard(pattern))
                    {
                        continue;
                    }

                    if (CacheOnPatterns.TrySplitJsonPath(pattern, out var path, out var jsonPath))
                    {
                        var notEvaluable = conditional ? "it is under a Condition"
                            : inTarget ? "it is inside a Target"
                            : HasExpression(pattern) || pattern.IndexOf('%') >= 0 ? "it is built from $(...), @(...) or %"
                            : exclude != null && (HasExpression(exclude) || exclude.IndexOf('%') >= 0) ? "its Exclude is built from $(...), @(...) or %"
                            : null;
                        var excludes = (exclude ?? "").Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries).Select(e => e.Trim()).Where(e => e.Length > 0).ToList();
                        hashGlobs.Add(new HashGlobSpec(pattern, path, jsonPath, excludes, ((IXmlLineInfo)element).LineNumber, notEvaluable, Metadata(element, "JsonPath")));
                        continue;
                    }

                    if (!conditional && !expressions && !Path.IsPathRooted(pattern))
                    {
                        patterns.Add(pattern);
                    }
                }
            }

            return new ProjectCacheOnItems(patterns, hashGlobs);
        }

        private static bool HasExpression(string text) => text.Contains("$(") || text.Contains("@(") || text.Contains("%(");

        /// <summary>Item metadata written as an attribute or as a child element; null when absent or blank.</summary>
        private static string? Metadata(XElement element, string name)
        {
            return Validate.Blank((string?)element.Attribute(name) ?? (string?)element.Elements().FirstOrDefault(e => e.Name.LocalName == name));
        }
    }
}
