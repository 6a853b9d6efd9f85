using System.Text;
using System.Text.Json;

namespace EcrCache.Keys
{
    /// <summary>
    /// A canonical text form of a JSON value, used to key a JsonPath selection (part of key algorithm version 1; do not
    /// change the output for any input without bumping <see cref="KeyManifest.AlgorithmVersion"/>):
    /// <list type="bullet">
    /// <item>no white space at all;</item>
    /// <item>object members sorted by name, ordinal (UTF-16 code unit) order, as in RFC 8785; members with the same name
    /// keep their document order;</item>
    /// <item>numbers are written exactly as in the document (raw text), so 1, 1.0 and 1e0 are different values;</item>
    /// <item>strings (and member names) are decoded, then written with the minimal escaping of RFC 8785: <c>\"</c>,
    /// <c>\\</c>, <c>\b \f \n \r \t</c>, other characters below U+0020 as <c>\u00xx</c> (lower-case hex), everything
    /// else literally (non-ASCII included; a lone surrogate, which cannot be written as UTF-8, as <c>\udxxx</c>). So
    /// <c>"\u00e9"</c> and <c>"é"</c> are the same value;</item>
    /// <item>true, false and null as such.</item>
    /// </list>
    /// The escaping is our own code rather than a JavaScriptEncoder so that the output cannot drift with the
    /// System.Text.Json version.
    /// </summary>
    internal static class CanonicalJson
    {
        private const string HexDigits = "0123456789abcdef";

        /// <exception cref="InvalidOperationException">A string in the value is not valid UTF-16 text once unescaped.</exception>
        public static string Canonicalize(JsonElement e)
        {
            var sb = new StringBuilder();
            Write(sb, e);
            return sb.ToString();
        }

        internal static void Write(StringBuilder sb, JsonElement e)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Object:
                    var members = new List<KeyValuePair<string, JsonElement>>();
                    foreach (var p in e.EnumerateObject())
                    {
                        members.Add(new KeyValuePair<string, JsonElement>(p.Name, p.Value));
                    }

                    // Stable: members with the same name keep their document order.
                    SortStable(members);
                    sb.Append('{');
                    for (var i = 0; i < members.Count; i++)
                    {
                        if (i > 0)
                        {
                            sb.Append(',');
                        }

                        WriteString(sb, members[i].Key);
                        sb.Append(':');
                        Write(sb, members[i].Value);
                    }

                    sb.Append('}');
                    break;
                case JsonValueKind.Array:
                    sb.Append('[');
                    var first = true;
                    foreach (var item in e.EnumerateArray())
                    {
                        if (!first)
                        {
                            sb.Append(',');
                        }

                        first = false;
                        Write(sb, item);
                    }

                    sb.Append(']');
                    break;
                case JsonValueKind.String:
                    WriteString(sb, e.GetString()!);
                    break;
                case JsonValueKind.Number:
                    sb.Append(e.GetRawText());
                    break;
                case JsonValueKind.True:
                    sb.Append("true");
                    break;
                case JsonValueKind.False:
                    sb.Append("false");
                    break;
                case JsonValueKind.Null:
                    sb.Append("null");
                    break;
                default:
                    throw new ArgumentException("The JSON element has no value (" + e.ValueKind + ").", nameof(e));
            }
        }

        /// <summary>Writes a JSON string literal with the canonical escaping described on the class.</summary>
        internal static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            var runStart = 0;
            for (var i = 0; i < s.Length; i++)
            {
                var c = s[i];
                string? escape = null;
                if (c < 0x20 || c == '"' || c == '\\')
                {
                    escape = c switch
                    {
                        '"' => "\\\"",
                        '\\' => "\\\\",
                        '\b' => "\\b",
                        '\f' => "\\f",
                        '\n' => "\\n",
                        '\r' => "\\r",
                        '\t' => "\\t",
                        _ => null,
                    };
                }
                else if (char.IsSurrogate(c))
                {
                    if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                    {
                        i++;
                        continue;
                    }
                }
                else
                {
                    continue;
                }

                sb.Append(s, runStart, i - runStart);
                if (escape != null)
                {
                    sb.Append(escape);
                }
                else
                {
                    sb.Append("\\u")
                        .Append(HexDigits[(c >> 12) & 0xF])
                        .Append(HexDigits[(c >> 8) & 0xF])
                        .Append(HexDigits[(c >> 4) & 0xF])
                        .Append(HexDigits[c & 0xF]);
                }

                runStart = i + 1;
            }

            sb.Append(s, runStart, s.Length - runStart);
            sb.Append('"');
        }

        internal static string QuoteString(string s)
        {
            var sb = new StringBuilder(s.Length + 2);
            WriteString(sb, s);
            return sb.ToString();
        }

        private static void SortStable(List<KeyValuePair<string, JsonElement>> members)
        {
            if (members.Count < 2)
            {
                return;
            }

            var indexed = new KeyValuePair<int, KeyValuePair<string, JsonElement>>[members.Count];
            for (var i = 0; i < indexed.Length; i++)
            {
                indexed[i] = new KeyValuePair<int, KeyValuePair<string, JsonElement>>(i, members[i]);
            }

            Array.Sort(indexed, (a, b) =>
            {
                var c = string.CompareOrdinal(a.Value.Key, b.Value.Key);
                return c != 0 ? c : a.Key.CompareTo(b.Key);
            });
            for (var i = 0; i < indexed.Length; i++)
            {
                members[i] = indexed[i].Value;
            }
        }
    }
}
