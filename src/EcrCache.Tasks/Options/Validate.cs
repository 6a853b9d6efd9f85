using System.Globalization;
using System.Text.RegularExpressions;

namespace EcrCache.Options
{
    /// <summary>
    /// The validators every option parser uses, so that "blank", "true", "30" and "00:30:00" mean the same thing for every
    /// option and every provider, and each error names the property it is about.
    /// </summary>
    internal static class Validate
    {
        /// <summary>The distribution spec's repository name grammar.</summary>
        public static readonly Regex RepositoryName = new Regex(
            "^[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*\\z",
            RegexOptions.CultureInvariant);

        /// <summary>The distribution spec's tag grammar.</summary>
        public static readonly Regex Tag = new Regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\\z", RegexOptions.CultureInvariant);

        /// <summary>A registry host with an optional port: a DNS name, or an IPv6 literal in brackets.</summary>
        public static readonly Regex RegistryHost = new Regex(
            "^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\\[[0-9A-Fa-f:]+\\])(?::[0-9]{1,5})?\\z",
            RegexOptions.CultureInvariant);

        /// <summary>An environment variable (and build argument) name.</summary>
        public static readonly Regex EnvironmentName = new Regex("^[A-Za-z_][A-Za-z0-9_]*\\z", RegexOptions.CultureInvariant);

        /// <summary>How this file system compares paths: ignoring case on Windows, exactly elsewhere.</summary>
        public static readonly StringComparison PathComparison =
            Path.DirectorySeparatorChar == '\\' ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

        /// <summary>
        /// <paramref name="value"/> when <paramref name="grammar"/> matches it, else <paramref name="diagnosticId"/> with
        /// <paramref name="args"/> (the value itself when none are given).
        /// </summary>
        public static string Grammar(string value, Regex grammar, string diagnosticId, params object?[] args)
        {
            if (!grammar.IsMatch(value))
            {
                throw new EcrCacheException(diagnosticId, args.Length == 0 ? new object?[] { value } : args);
            }

            return value;
        }

        /// <summary>Null for a missing or white-space value, else the value as written.</summary>
        public static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

        /// <summary>Null for a missing or white-space value, else the value trimmed.</summary>
        public static string? Trimmed(string? value) => string.IsNullOrWhiteSpace(value) ? null : value!.Trim();

        /// <summary>true/false (also 1/0, yes/no, on/off, any case); blank is <paramref name="defaultValue"/>.</summary>
        public static bool Bool(string property, string? value, bool defaultValue)
        {
            var text = Trimmed(value);
            if (text == null)
            {
                return defaultValue;
            }

            switch (text.ToLowerInvariant())
            {
                case "true":
                case "1":
                case "yes":
                case "on":
                    return true;
                case "false":
                case "0":
                case "no":
                case "off":
                    return false;
                default:
                    throw new EcrCacheException(DiagnosticIds.BadBoolean, property, value);
            }
        }

        /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>; anything else is <paramref name="diagnosticId"/>.</summary>
        public static int Integer(string value, int min, int max, string diagnosticId)
        {
            var text = value.Trim();
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
            {
                throw new EcrCacheException(diagnosticId, value);
            }

            return n;
        }

        /// <summary>
        /// A duration: whole minutes ("30") or a TimeSpan with a colon ("00:00:30"). Anything else is
        /// <paramref name="diagnosticId"/>; the caller checks the range.
        /// </summary>
        public static TimeSpan Duration(string value, string diagnosticId)
        {
            var text = value.Trim();
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var minutes))
            {
                return TimeSpan.FromMinutes(minutes);
            }

            if (text.IndexOf(':') >= 0 && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var timeout))
            {
                return timeout;
            }

            throw new EcrCacheException(diagnosticId, value);
        }

        /// <summary>A duration from <paramref name="min"/> to <paramref name="max"/>; blank is <paramref name="defaultValue"/>.</summary>
        public static TimeSpan Duration(string? value, TimeSpan defaultValue, TimeSpan min, TimeSpan max, string diagnosticId)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                return defaultValue;
            }

            var timeout = Duration(value!, diagnosticId);
            if (timeout < min || timeout > max)
            {
                throw new EcrCacheException(diagnosticId, value);
            }

            return timeout;
        }

        /// <summary>A full path: <paramref name="path"/> as is when rooted, else under <paramref name="baseDirectory"/>.</summary>
        public static string FullPath(string baseDirectory, string path) =>
            Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(baseDirectory, path));
    }
}
