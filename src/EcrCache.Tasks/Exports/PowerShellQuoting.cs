using System.Text;

namespace EcrCache.Exports
{
    /// <summary>Quoting of values for PowerShell (Windows PowerShell 5.1 and PowerShell 7).</summary>
    internal static class PowerShellQuoting
    {
        /// <summary>
        /// Returns <paramref name="value"/> as a PowerShell single-quoted (verbatim) string: <c>'…'</c>, with every
        /// single quote doubled. PowerShell's tokenizer takes the typographic quotes U+2018, U+2019, U+201A and U+201B
        /// as single quotes too, so a lone one of those would end the string: they are doubled as well (a doubled one
        /// reads back as itself). Nothing else is interpreted inside: <c>$</c>, <c>`</c>, <c>"</c>, backslashes and
        /// newlines are literal.
        /// </summary>
        /// <exception cref="ArgumentException">The value contains a NUL character, which no environment variable can hold.</exception>
        public static string SingleQuote(string value)
        {
            if (value == null)
            {
                throw new ArgumentNullException(nameof(value));
            }

            if (value.IndexOf('\0') >= 0)
            {
                throw new ArgumentException("A PowerShell value cannot contain a NUL character.", nameof(value));
            }

            var sb = new StringBuilder(value.Length + 2);
            sb.Append('\'');
            foreach (var c in value)
            {
                sb.Append(c);
                if (IsSingleQuote(c))
                {
                    sb.Append(c);
                }
            }

            sb.Append('\'');
            return sb.ToString();
        }

        internal static bool IsSingleQuote(char c) => c == '\'' || (c >= '\u2018' && c <= '\u201B');
    }
}
