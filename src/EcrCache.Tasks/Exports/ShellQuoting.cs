using System.Text;

namespace EcrCache.Exports
{
    /// <summary>Quoting of values for POSIX shells (sh, dash, bash, zsh, ksh).</summary>
    internal static class ShellQuoting
    {
        /// <summary>
        /// Returns <paramref name="value"/> in POSIX single quotes: <c>'…'</c>, with every <c>'</c> written as
        /// <c>'\''</c> (close the quote, an escaped quote, reopen). Inside single quotes a shell interprets nothing:
        /// <c>$</c>, <c>`</c>, <c>\</c>, <c>"</c> and newlines are all literal, so the value reads back byte for byte.
        /// The empty string becomes <c>''</c>.
        /// </summary>
        /// <exception cref="ArgumentException">The value contains a NUL character, which no shell variable can hold.</exception>
        public static string SingleQuote(string value)
        {
            if (value == null)
            {
                throw new ArgumentNullException(nameof(value));
            }

            if (value.IndexOf('\0') >= 0)
            {
                throw new ArgumentException("A shell value cannot contain a NUL character.", nameof(value));
            }

            var sb = new StringBuilder(value.Length + 2);
            sb.Append('\'');
            foreach (var c in value)
            {
                if (c == '\'')
                {
                    sb.Append("'\\''");
                }
                else
                {
                    sb.Append(c);
                }
            }

            sb.Append('\'');
            return sb.ToString();
        }

        /// <summary>
        /// Like <see cref="SingleQuote"/> but leaves words made only of characters no shell treats specially
        /// (letters, digits and <c>_ - . / , : @ % + =</c>) unquoted, for readable display text.
        /// </summary>
        internal static string QuoteIfNeeded(string value)
        {
            if (value.Length == 0)
            {
                return "''";
            }

            foreach (var c in value)
            {
                var safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '_' || c == '-' || c == '.' || c == '/' || c == ',' || c == ':' || c == '@'
                    || c == '%' || c == '+' || c == '=';
                if (!safe)
                {
                    return SingleQuote(value);
                }
            }

            return value;
        }
    }
}
