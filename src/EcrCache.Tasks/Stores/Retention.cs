using System.Text.RegularExpressions;
using EcrCache.Keys;

namespace EcrCache.Stores
{
    /// <summary>
    /// What retention by count (EcrCacheKeepCount) may touch in a store: only key tags (the 24 hex digits of a key), never
    /// latest, lease tags or any other name someone gave an image, so that a tag EcrCache did not make is never counted
    /// or deleted.
    /// </summary>
    internal static class Retention
    {
        private static readonly Regex KeyTag = new Regex("^[0-9a-f]{" + CacheKeyCalculator.TagLength + "}\\z", RegexOptions.CultureInvariant);

        /// <summary>True for a tag (or tarball entry name) that is a cache key's tag.</summary>
        public static bool IsKeyTag(string name) => KeyTag.IsMatch(name);

        /// <summary>
        /// The items beyond the newest <paramref name="keepCount"/> (by <paramref name="created"/>, newest first; ties by
        /// name so the choice is stable), oldest last. Nothing when <paramref name="keepCount"/> is 0 (no count limit).
        /// </summary>
        public static IReadOnlyList<T> BeyondNewest<T>(IEnumerable<T> items, int keepCount, Func<T, DateTime> created, Func<T, string> name)
        {
            if (keepCount <= 0)
            {
                return new List<T>();
            }

            return items.OrderByDescending(created).ThenBy(name, StringComparer.Ordinal).Skip(keepCount).ToList();
        }
    }
}
