using System.Text;

namespace EcrCache.Keys
{
    /// <summary>
    /// The one shell-word splitter: words end at white space outside quotes. <see cref="Split"/> reads a command line as a
    /// POSIX shell does (quotes removed; a backslash keeps the next character, inside double quotes only before
    /// <c>"</c>, <c>\</c> and <c>$</c>); <see cref="SplitRaw"/> keeps every character of each word as written (quotes and
    /// escapes included), for the Dockerfile parser, which substitutes and unquotes afterwards with its own escape
    /// character.
    /// </summary>
    internal static class ShellWords
    {
        /// <summary>Splits like a POSIX shell (no expansion); an unterminated quote is reported to <paramref name="unterminated"/>.</summary>
        public static List<string> Split(string text, Func<char, Exception> unterminated) =>
            Scan(text, '\\', raw: false, unterminated);

        /// <summary>Splits keeping each word's quotes and escapes (<paramref name="escape"/> keeps the next character).</summary>
        public static List<string> SplitRaw(string text, char escape) =>
            Scan(text, escape, raw: true, unterminated: null);

        private static List<string> Scan(string text, char escape, bool raw, Func<char, Exception>? unterminated)
        {
            var words = new List<string>();
            var current = new StringBuilder();
            var inWord = false;
            var quote = '\0';
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                if (quote == '\0' && char.IsWhiteSpace(c))
                {
                    if (inWord)
                    {
                        words.Add(current.ToString());
                        current.Clear();
                        inWord = false;
                    }

                    continue;
                }

                inWord = true;
                if (c == escape && i + 1 < text.Length && (raw || quote == '\0' || (quote == '"' && IsEscapableInDoubleQuotes(text[i + 1]))))
                {
                    if (raw)
                    {
                        current.Append(c);
                    }

                    current.Append(text[++i]);
                    continue;
                }

                if (quote == '\0' && (c == '"' || c == '\''))
                {
                    quote = c;
                    if (raw)
                    {
                        current.Append(c);
                    }

                    continue;
                }

                if (c == quote)
                {
                    quote = '\0';
                    if (raw)
                    {
                        current.Append(c);
                    }

                    continue;
                }

                current.Append(c);
            }

            if (quote != '\0' && unterminated != null)
            {
                throw unterminated(quote);
            }

            if (inWord)
            {
                words.Add(current.ToString());
            }

            return words;
        }

        private static bool IsEscapableInDoubleQuotes(char c) => c == '"' || c == '\\' || c == '$';
    }
}
