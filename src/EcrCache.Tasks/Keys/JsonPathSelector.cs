using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EcrCache.Diagnostics;

namespace EcrCache.Keys
{
    /// <summary>
    /// Selects a value from a JSON document with a jq-like path (a subset of jq's syntax):
    /// <list type="bullet">
    /// <item><c>.</c> is the whole document;</item>
    /// <item><c>.name</c> selects an object member. After a dot a name is one or more of <c>A-Z a-z 0-9 _ $ -</c>,
    /// so <c>.dev-dependencies</c> and <c>.$schema</c> work (jq itself would need quotes for those);</item>
    /// <item><c>["any name"]</c> or <c>.["any name"]</c> selects a member whose name needs quoting (dots, '@', '/',
    /// spaces, non-ASCII...), written as a JSON string literal with JSON escapes, e.g.
    /// <c>.dependencies["@scope/pkg"]</c>;</item>
    /// <item><c>[n]</c> or <c>.[n]</c> selects an array element; a negative n counts from the end (<c>[-1]</c> is the last);</item>
    /// <item>segments chain: <c>.a.b[2].c</c>. The path must start with '.'; white space around the whole path is
    /// ignored, inside it is not allowed. Recursive descent (<c>..</c>), wildcards, slices and filters are not supported.</item>
    /// </list>
    /// A member selection on a non-object, an index on a non-array, a missing member or an index out of range means
    /// "not found" (jq would give null for some of these). With duplicate member names the last one wins.
    /// </summary>
    public static class JsonPathSelector
    {
        private const string UnknownItem = "(unknown)";

        /// <summary>Selects the value at <paramref name="path"/>; false when it is not there.</summary>
        /// <exception cref="EcrCacheException">BadJsonPath: the path is not valid.</exception>
        public static bool TrySelect(JsonElement root, string path, out JsonElement value) =>
            TrySelect(root, ParseSegments(path, UnknownItem), out value);

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

        internal static bool TrySelect(JsonElement root, IReadOnlyList<JsonPathSegment> segments, out JsonElement value)
        {
            var current = root;
            foreach (var segment in segments)
            {
                if (segment.Name != null)
                {
                    if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(segment.Name, out current))
                    {
                        value = default;
                        return false;
                    }
                }
                else
                {
                    if (current.ValueKind != JsonValueKind.Array)
                    {
                        value = default;
                        return false;
                    }

                    var length = current.GetArrayLength();
                    var index = segment.Index < 0 ? (long)length + segment.Index : segment.Index;
                    if (index < 0 || index >= length)
                    {
                        value = default;
                        return false;
                    }

                    current = current[(int)index];
                }
            }

            value = current;
            return true;
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
                        var name = DecodeString(p.Substring(start, i - start)) ?? throw Bad(path, itemName);
                        segments.Add(JsonPathSegment.Member(name));
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
