namespace EcrCache.Exports
{
    /// <summary>Quoting of values for POSIX shells (sh, dash, bash, zsh, ksh).</summary>
    internal static class ShellQuoting
    {
        /// <summary><paramref name="value"/> in POSIX single quotes (<see cref="SingleQuoting.Posix"/>).</summary>
        /// <exception cref="ArgumentException">The value contains a NUL character, which no shell variable can hold.</exception>
        public static string SingleQuote(string value) => SingleQuoting.Posix.Quote(value);

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
