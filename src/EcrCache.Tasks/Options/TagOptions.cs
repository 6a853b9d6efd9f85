using System.Text;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;

namespace EcrCache.Options
{
    /// <summary>
    /// ImageTag items: extra tags pushed next to the key tag (<c>branch-$(BUILDKITE_BRANCH)</c>). They never enter the
    /// key. A value outside the distribution spec's tag grammar is made into one (warning ECRC1051): branch names hold
    /// '/', which a tag cannot. A value with nothing left is ECRC1050 at the item.
    /// </summary>
    internal static class TagOptions
    {
        /// <summary>The item's well-known metadata naming the file that declared it (copied by the task).</summary>
        public const string DefiningProjectMetadata = "DefiningProjectFullPath";

        public const int MaxTagLength = 128;

        public static void Apply(RawOptions raw, CacheOptions options, IBuildLog log)
        {
            var tags = new List<string>();
            foreach (var item in raw.ImageTags)
            {
                var written = item.ItemSpec.Trim();
                var tag = Sanitize(written);
                if (tag.Length == 0)
                {
                    var file = Validate.Blank(item.Get(DefiningProjectMetadata)) ?? raw.ProjectFile;
                    var diagnostic = Diagnostic.Create(DiagnosticIds.ImageTagEmpty, item.ItemSpec);
                    throw new EcrCacheException(file == null ? diagnostic : diagnostic.At(file, FindLine(file, item.ItemSpec)));
                }

                if (!string.Equals(tag, written, StringComparison.Ordinal))
                {
                    log.Warning(Diagnostic.Create(DiagnosticIds.ImageTagSanitized, written, tag));
                }

                if (!tags.Contains(tag, StringComparer.Ordinal))
                {
                    tags.Add(tag);
                }
            }

            options.ImageTags = tags;
            if (!options.Push && options.IsMultiPlatform)
            {
                // buildx can push an image of several platforms but not load it into the daemon.
                throw new EcrCacheException(DiagnosticIds.PushOffMultiPlatform, options.Platform);
            }
        }

        /// <summary>
        /// The tag grammar <c>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}</c>: every other character becomes '-', leading '.' and
        /// '-' are dropped, and the rest is cut to 128 characters (<c>feature/login</c> is <c>feature-login</c>).
        /// </summary>
        public static string Sanitize(string value)
        {
            var text = new StringBuilder(value.Length);
            foreach (var c in value.Trim())
            {
                var allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
                text.Append(allowed ? c : '-');
            }

            var tag = text.ToString().TrimStart('.', '-');
            return tag.Length > MaxTagLength ? tag.Substring(0, MaxTagLength) : tag;
        }

        /// <summary>
        /// The line of the ImageTag element in <paramref name="file"/> whose Include, with its $(...) and @(...) parts
        /// read as anything, gives <paramref name="value"/>; 0 when the file cannot tell (the item came from a task).
        /// </summary>
        internal static int FindLine(string file, string value)
        {
            try
            {
                var document = XDocument.Load(file, LoadOptions.SetLineInfo);
                foreach (var element in document.Descendants().Where(e => e.Name.LocalName == "ImageTag"))
                {
                    var include = (string?)element.Attribute("Include");
                    if (include == null)
                    {
                        continue;
                    }

                    if (Regex.IsMatch(value, IncludePattern(include.Trim()), RegexOptions.Singleline | RegexOptions.CultureInvariant))
                    {
                        return ((IXmlLineInfo)element).LineNumber;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is XmlException)
            {
                // Only the line is lost: the error still names the file.
            }

            return 0;
        }

        /// <summary>A regex for what <paramref name="include"/> can evaluate to: its text, with each $(...), @(...) and %(...) (nested ones too) as '.*'.</summary>
        private static string IncludePattern(string include)
        {
            var pattern = new StringBuilder("^");
            var literal = new StringBuilder();
            for (var i = 0; i < include.Length; i++)
            {
                if ((include[i] == '$' || include[i] == '@' || include[i] == '%') && i + 1 < include.Length && include[i + 1] == '(')
                {
                    var depth = 0;
                    var end = i + 1;
                    for (; end < include.Length; end++)
                    {
                        depth += include[end] == '(' ? 1 : include[end] == ')' ? -1 : 0;
                        if (depth == 0)
                        {
                            break;
                        }
                    }

                    pattern.Append(Regex.Escape(literal.ToString())).Append(".*");
                    literal.Clear();
                    i = end;
                    continue;
                }

                literal.Append(include[i]);
            }

            return pattern.Append(Regex.Escape(literal.ToString())).Append('$').ToString();
        }
    }

    /// <summary>The parsed extra tags.</summary>
    internal sealed partial class CacheOptions
    {
        /// <summary>
        /// ImageTag items, sanitised to the tag grammar and without repeats: pushed (or saved) next to the key tag on a
        /// miss and a hit, never part of the key. Store pruning must keep them.
        /// </summary>
        public IReadOnlyList<string> ImageTags { get; set; } = Array.Empty<string>();
    }
}
