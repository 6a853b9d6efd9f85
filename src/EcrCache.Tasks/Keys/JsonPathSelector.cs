using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EcrCache.Keys
{
    /// <summary>
    /// Selects a value from a JSON document with a jq-like path (a subset of jq's syntax):
    /// <list type="bullet">
    /// <item><c>.</c> is the whole document;</item>
    /// <item><c>.name</c> selects an object member. After a dot a name is one or more of <c>A-Z a-z 0-9 _ $ -</c>,
    /// so <c>.dev-dependencies</c> and <c>.$schema</c> work (jq itself would need quotes for those);</item>
    /// <item><c>["any name"]</c>, <c>.["any name"]</c> or <c>."any name"</c> selects a member whose name needs quoting
    /// (dots, '@', '/', spaces, non-ASCII...), written as a JSON string literal with JSON escapes, e.g.
    /// <c>.dependencies["@scope/pkg"]</c>;</item>
    /// <item><c>[n]</c> or <c>.[n]</c> selects an array element; a negative n counts from the end (<c>[-1]</c> is the last);</item>
    /// <item>segments chain: <c>.a.b[2].c</c>. The path must start with '.'; white space around the whole path is
    /// ignored, inside it is not allowed. Anything else of jq (pipes, <c>.[]</c>, <c>..</c>, <c>?</c>, slices,
    /// functions, filters) is error BadJsonPath.</item>
    /// </list>
    /// Selection follows jq: a missing member, an index out of range, and any member or index of null select null; a
    /// member of a non-object (other than null) or an index of a non-array is jq's "Cannot index" error. With duplicate
    /// member names the last one wins.
    /// </summary>
    internal static class JsonPathSelector
    {
        private const string UnknownItem = "(unknown)";

        /// <summary>
        /// Selects the value at <paramref name="path"/> as jq does. True with <paramref name="value"/> null when jq gives
        /// null for a missing member or index (or the document's own null); false, with the reason in
        /// <paramref name="typeError"/>, when jq fails with "Cannot index" (a member of a string, an index of an object...).
        /// </summary>
        /// <exception cref="EcrCacheException">BadJsonPath: the path is not valid.</exception>
        public static bool TrySelect(JsonElement root, string path, out JsonElement? value, out string? typeError) =>
            TrySelect(root, ParseSegments(path, UnknownItem), out value, out typeError);

        /// <summary>
        /// Parses and validates a path. Returns one canonical token per segment: <c>.name</c> for a member whose name is
        /// a plain identifier, <c>["..."]</c> (canonical JSON string) for any other member, <c>[n]</c> for an index.
        /// "." gives an empty list. Different spellings of the same path (<c>.a</c>, <c>.["a"]</c>, <c>["a"]</c>) give the
        /// same tokens.
        /// </summary>
        /// <exception cref="EcrCacheException">BadJsonPath.</exception>
        public static IReadOnlyList<string> Parse(string path) => Parse(path, UnknownItem);

        /// <summary>As <see cref="Parse(string)"/>, naming the CacheOn item in the error.</summary>
        public static IReadOnlyList<string> Parse(string path, string itemName)
        {
            var segments = ParseSegments(path, itemName);
            var tokens = new string[segments.Count];
            for (var i = 0; i < tokens.Length; i++)
            {
                tokens[i] = segments[i].ToToken();
            }

            return tokens;
        }

        /// <summary>The canonical spelling of a path: "." or the tokens of <see cref="Parse(string)"/> joined, with a
        /// leading '.' when the first token is a bracket (<c>.["a b"].c[0]</c>).</summary>
        public static string Canonicalize(string path) => ToCanonicalString(ParseSegments(path, UnknownItem));

        internal static string ToCanonicalString(IReadOnlyList<JsonPathSegment> segments)
        {
            if (segments.Count == 0)
            {
                return ".";
            }

            var sb = new StringBuilder();
            foreach (var segment in segments)
            {
                var token = segment.ToToken();
                if (sb.Length == 0 && token[0] == '[')
                {
                    sb.Append('.');
                }

                sb.Append(token);
            }

            return sb.ToString();
        }

        internal static bool TrySelect(JsonElement root, IReadOnlyList<JsonPathSegment> segments, out JsonElement? value, out string? typeError)
        {
            JsonElement? current = root;
            typeError = null;
            for (var i = 0; i < segments.Count; i++)
            {
                var segment = segments[i];
                if (current == null || current.Value.ValueKind == JsonValueKind.Null)
                {
                    // jq: null.a and null[0] are null.
                    current = null;
                    continue;
                }

                var element = current.Value;
                if (segment.Name != null)
                {
                    if (element.ValueKind != JsonValueKind.Object)
                    {
                        typeError = CannotIndex(segments, i, element.ValueKind, CanonicalJson.QuoteString(segment.Name));
                        value = null;
                        return false;
                    }

                    // TryGetProperty returns the last of duplicate members, as jq does.
                    current = element.TryGetProperty(segment.Name, out var member) ? member : (JsonElement?)null;
                }
                else
                {
                    if (element.ValueKind != JsonValueKind.Array)
                    {
                        typeError = CannotIndex(segments, i, element.ValueKind, "number");
                        value = null;
                        return false;
                    }

                    var length = element.GetArrayLength();
                    var index = segment.Index < 0 ? (long)length + segment.Index : segment.Index;
                    current = index < 0 || index >= length ? (JsonElement?)null : element[(int)index];
                }
            }

            value = current != null && current.Value.ValueKind == JsonValueKind.Null ? null : current;
            return true;
        }

        private static string CannotIndex(IReadOnlyList<JsonPathSegment> segments, int failing, JsonValueKind kind, string with)
        {
            var prefix = new List<JsonPathSegment>(failing);
            for (var i = 0; i < failing; i++)
            {
                prefix.Add(segments[i]);
            }

            return ToCanonicalString(prefix) + " is " + KindName(kind) + ", which cannot be indexed with " + with;
        }

        private static string KindName(JsonValueKind kind)
        {
            switch (kind)
            {
                case JsonValueKind.Object: return "an object";
                case JsonValueKind.Array: return "an array";
                case JsonValueKind.String: return "a string";
                case JsonValueKind.Number: return "a number";
                case JsonValueKind.True:
                case JsonValueKind.False: return "a boolean";
                default: return "null";
            }
        }

        internal static IReadOnlyList<JsonPathSegment> ParseSegments(string path, string itemName)
        {
            if (path == null)
            {
                throw new ArgumentNullException(nameof(path));
            }

            var p = path.Trim();
            var segments = new List<JsonPathSegment>();
            if (p.Length == 0 || p[0] != '.')
            {
                throw Bad(path, itemName);
            }

            if (p.Length == 1)
            {
                return segments;
            }

            var i = 0;
            while (i < p.Length)
            {
                var c = p[i];
                if (c == '.')
                {
                    i++;
                    if (i == p.Length)
                    {
                        throw Bad(path, itemName); // trailing '.'
                    }

                    if (p[i] == '[')
                    {
                        continue; // .["x"] / .[0]
                    }

                    if (p[i] == '"')
                    {
                        segments.Add(JsonPathSegment.Member(ReadString(p, ref i, path, itemName))); // ."x", jq's other quoting
                        continue;
                    }

                    var start = i;
                    while (i < p.Length && IsIdentifierChar(p[i]))
                    {
                        i++;
                    }

                    if (i == start)
                    {
                        throw Bad(path, itemName); // "..", ".@x", ". x"
                    }

                    segments.Add(JsonPathSegment.Member(p.Substring(start, i - start)));
                }
                else if (c == '[')
                {
                    i++;
                    if (i < p.Length && p[i] == '"')
                    {
                        segments.Add(JsonPathSegment.Member(ReadString(p, ref i, path, itemName)));
                    }
                    else
                    {
                        var start = i;
                        if (i < p.Length && p[i] == '-')
                        {
                            i++;
                        }

                        var digitsStart = i;
                        while (i < p.Length && p[i] >= '0' && p[i] <= '9')
                        {
                            i++;
                        }

                        if (i == digitsStart
                            || !int.TryParse(p.Substring(start, i - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var index))
                        {
                            throw Bad(path, itemName);
                        }

                        segments.Add(JsonPathSegment.Element(index));
                    }

                    if (i >= p.Length || p[i] != ']')
                    {
                        throw Bad(path, itemName);
                    }

                    i++;
                }
                else
                {
                    throw Bad(path, itemName);
                }
            }

            return segments;
        }

        /// <summary>Reads the JSON string literal that starts at p[i] (a '"'), leaving i after its closing quote.</summary>
        private static string ReadString(string p, ref int i, string path, string itemName)
        {
            var start = i;
            i++;
            while (i < p.Length && p[i] != '"')
            {
                i += p[i] == '\\' ? 2 : 1;
            }

            if (i >= p.Length)
            {
                throw Bad(path, itemName); // unterminated string
            }

            i++; // closing quote
            return DecodeString(p.Substring(start, i - start)) ?? throw Bad(path, itemName);
        }

        internal static bool IsIdentifier(string name)
        {
            if (name.Length == 0)
            {
                return false;
            }

            foreach (var c in name)
            {
                if (!IsIdentifierChar(c))
                {
                    return false;
                }
            }

            return true;
        }

        private static bool IsIdentifierChar(char c) =>
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' || c == '-';

        private static string? DecodeString(string literal)
        {
            try
            {
                using var doc = JsonDocument.Parse(literal);
                return doc.RootElement.ValueKind == JsonValueKind.String ? doc.RootElement.GetString() : null;
            }
            catch (JsonException)
            {
                return null;
            }
            catch (InvalidOperationException)
            {
                return null; // lone surrogate escape
            }
        }

        private static EcrCacheException Bad(string path, string itemName) =>
            new EcrCacheException(DiagnosticIds.BadJsonPath, path, itemName);
    }

    internal readonly struct JsonPathSegment
    {
        private JsonPathSegment(string? name, int index)
        {
            Name = name;
            Index = index;
        }

        /// <summary>The member name, or null for an array index.</summary>
        public string? Name { get; }

        public int Index { get; }

        public static JsonPathSegment Member(string name) => new JsonPathSegment(name, 0);

        public static JsonPathSegment Element(int index) => new JsonPathSegment(null, index);

        public string ToToken()
        {
            if (Name == null)
            {
                return "[" + Index.ToString(CultureInfo.InvariantCulture) + "]";
            }

            return JsonPathSelector.IsIdentifier(Name) ? "." + Name : "[" + CanonicalJson.QuoteString(Name) + "]";
        }
    }
}
