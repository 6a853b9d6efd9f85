using System.Text;

namespace EcrCache.Exports
{
    /// <summary>
    /// Single-quoted strings, the one quoting in which a POSIX shell and PowerShell interpret nothing (no <c>$</c>,
    /// <c>`</c>, backslash or newline handling), so a value reads back byte for byte. The shells differ only in which
    /// characters end such a string and how one of them is written inside it; those are the data of an instance.
    /// </summary>
    internal sealed class SingleQuoting
    {
        /// <summary>sh, dash, bash, zsh, ksh: a <c>'</c> is written <c>'\''</c> (close the quote, an escaped quote, reopen).</summary>
        public static readonly SingleQuoting Posix = new SingleQuoting("shell", c => c == '\'', _ => "'\\''");

        /// <summary>
        /// Windows PowerShell 5.1 and PowerShell 7: a single quote is doubled. The tokenizer takes the typographic quotes
        /// U+2018 to U+201B as single quotes too, so a lone one of those would end the string: they are doubled as well
        /// (a doubled one reads back as itself).
        /// </summary>
        public static readonly SingleQuoting PowerShell = new SingleQuoting("PowerShell", c => c == '\'' || (c >= '\u2018' && c <= '\u201B'), c => new string(c, 2));

        private readonly string _shell;
        private readonly Func<char, bool> _isQuote;
        private readonly Func<char, string> _writeQuote;

        /// <param name="shell">For the NUL message.</param>
        /// <param name="isQuote">Whether a character would end the string.</param>
        /// <param name="writeQuote">How such a character is written inside it.</param>
        private SingleQuoting(string shell, Func<char, bool> isQuote, Func<char, string> writeQuote)
        {
            _shell = shell;
            _isQuote = isQuote;
            _writeQuote = writeQuote;
        }

        /// <summary><paramref name="value"/> in single quotes; the empty string becomes <c>''</c>.</summary>
        /// <exception cref="ArgumentException">The value contains a NUL character, which no environment variable can hold.</exception>
        public string Quote(string value)
        {
            if (value == null)
            {
                throw new ArgumentNullException(nameof(value));
            }

            if (value.IndexOf('\0') >= 0)
            {
                throw new ArgumentException("A " + _shell + " value cannot contain a NUL character.", nameof(value));
            }

            var sb = new StringBuilder(value.Length + 2);
            sb.Append('\'');
            foreach (var c in value)
            {
                if (_isQuote(c))
                {
                    sb.Append(_writeQuote(c));
                }
                else
                {
                    sb.Append(c);
                }
            }

            sb.Append('\'');
            return sb.ToString();
        }
    }
}
