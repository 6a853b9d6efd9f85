namespace EcrCache.Exports
{
    /// <summary>Quoting of values for PowerShell (Windows PowerShell 5.1 and PowerShell 7).</summary>
    internal static class PowerShellQuoting
    {
        /// <summary><paramref name="value"/> as a PowerShell single-quoted (verbatim) string (<see cref="SingleQuoting.PowerShell"/>).</summary>
        /// <exception cref="ArgumentException">The value contains a NUL character, which no environment variable can hold.</exception>
        public static string SingleQuote(string value) => SingleQuoting.PowerShell.Quote(value);
    }
}
