using System.Text;

namespace EcrCache.Keys
{
    /// <summary>
    /// The <c>$NAME</c> and <c>${...}</c> references that Dockerfiles (ARG substitution in FROM lines) and Compose files
    /// (interpolation) share. The scan is the same; what differs is passed in: how a literal '$' is written
    /// (<c>\$</c> or <c>$$</c>), whether braces nest, how a name is looked up and what a <c>${...}</c> expands to.
    /// </summary>
    internal static class VariableReferences
    {
        /// <param name="dollarEscape">The character that, before a '$', makes it a literal '$'.</param>
        /// <param name="nestedBraces">Whether <c>${a:-${b}}</c> closes at the outer brace (Dockerfile) or the first (Compose).</param>
        /// <param name="lookup">The value of a plain <c>$NAME</c>; null is empty.</param>
        /// <param name="expandBraced">What the text between <c>${</c> and <c>}</c> expands to.</param>
        /// <param name="unclosed">The error for a <c>${</c> without its <c>}</c>.</param>
        public static string Substitute(string text, char dollarEscape, bool nestedBraces, Func<string, string?> lookup, Func<string, string> expandBraced, Func<Exception> unclosed)
        {
            var sb = new StringBuilder(text.Length);
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                if (c == dollarEscape && i + 1 < text.Length && text[i + 1] == '$')
                {
                    sb.Append('$');
                    i++;
                    continue;
                }

                if (c != '$' || i + 1 >= text.Length)
                {
                    sb.Append(c);
                    continue;
                }

                if (text[i + 1] == '{')
                {
                    var close = nestedBraces ? FindClose(text, i + 2) : text.IndexOf('}', i + 2);
                    if (close < 0)
                    {
                        throw unclosed();
                    }

                    sb.Append(expandBraced(text.Substring(i + 2, close - i - 2)));
                    i = close;
                    continue;
                }

                var end = NameEnd(text, i + 1);
                if (end == i + 1)
                {
                    sb.Append(c);
                    continue;
                }

                sb.Append(lookup(text.Substring(i + 1, end - i - 1)) ?? "");
                i = end - 1;
            }

            return sb.ToString();
        }

        /// <summary>Where the variable name (letters, digits, '_') that starts at <paramref name="start"/> ends.</summary>
        public static int NameEnd(string text, int start)
        {
            var end = start;
            while (end < text.Length && (char.IsLetterOrDigit(text[end]) || text[end] == '_'))
            {
                end++;
            }

            return end;
        }

        private static int FindClose(string text, int from)
        {
            var depth = 0;
            for (var k = from; k < text.Length; k++)
            {
                if (text[k] == '{')
                {
                    depth++;
                }
                else if (text[k] == '}')
                {
                    if (depth == 0)
                    {
                        return k;
                    }

                    depth--;
                }
            }

            return -1;
        }
    }
}
