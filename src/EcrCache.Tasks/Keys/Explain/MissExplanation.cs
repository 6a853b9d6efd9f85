namespace EcrCache.Keys.Explain
{
    /// <summary>
    /// Says in words what changed between two key manifests. Build args and additional build args are named only
    /// (their hashes are of values, which may be secret-adjacent); files and the Dockerfile are named; the platform,
    /// target and base-image digests are shown with their old and new values (none of them is secret).
    /// </summary>
    internal static class MissExplanation
    {
        /// <summary>The manifest of the last key EnsureCachedImage ensured from this project.</summary>
        public const string PreviousManifestFileName = "key-manifest.previous.json";

        public static KeyManifest? ReadPrevious(string intermediateDirectory)
        {
            var path = Path.Combine(intermediateDirectory, PreviousManifestFileName);
            try
            {
                return File.Exists(path) && KeyManifest.TryFromJson(File.ReadAllText(path), out var manifest) ? manifest : null;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return null;
            }
        }

        /// <summary>One line per change, most important first; empty when nothing changed.</summary>
        public static IReadOnlyList<string> Describe(KeyManifest previous, KeyManifest current)
        {
            var diff = KeyManifest.Diff(previous, current);
            var lines = new List<string>();
            if (previous.Version != current.Version)
            {
                lines.Add("the key algorithm changed (version " + previous.Version + " -> " + current.Version + ")");
            }

            foreach (var change in diff.Changed.OrderBy(c => Rank(c.Kind)).ThenBy(c => c.Name, StringComparer.Ordinal))
            {
                lines.Add(DescribeChange(change.Kind, change.Name, change.PreviousHash, change.CurrentHash));
            }

            foreach (var e in diff.Added.OrderBy(c => Rank(c.Kind)).ThenBy(c => c.Name, StringComparer.Ordinal))
            {
                lines.Add(Label(e.Kind, e.Name) + " added" + ShowValue(e.Kind, e.Hash, " (", ")"));
            }

            foreach (var e in diff.Removed.OrderBy(c => Rank(c.Kind)).ThenBy(c => c.Name, StringComparer.Ordinal))
            {
                lines.Add(Label(e.Kind, e.Name) + " removed" + ShowValue(e.Kind, e.Hash, " (was ", ")"));
            }

            return lines;
        }

        private static string DescribeChange(string kind, string name, string before, string after)
        {
            switch (kind)
            {
                case KeyEntryKinds.Platform:
                case KeyEntryKinds.Target:
                case KeyEntryKinds.BaseImage:
                case KeyEntryKinds.Algorithm:
                    return Label(kind, name) + " changed: " + before + " -> " + after;
                case KeyEntryKinds.File when before == CacheKeyCalculator.AbsentHash:
                case KeyEntryKinds.Json when before == CacheKeyCalculator.AbsentHash:
                    return Label(kind, name) + " was created (it was absent)";
                case KeyEntryKinds.File when after == CacheKeyCalculator.AbsentHash:
                case KeyEntryKinds.Json when after == CacheKeyCalculator.AbsentHash:
                    return Label(kind, name) + " no longer exists (Optional: keyed as absent)";
                case KeyEntryKinds.BuildArg when IsUnsetBuildArg(name, after):
                    return Label(kind, name) + " changed (now unset: the Dockerfile's ARG default applies)";
                case KeyEntryKinds.BuildArg when IsUnsetBuildArg(name, before):
                    return Label(kind, name) + " changed (was unset)";
                default:
                    return Label(kind, name) + " changed";
            }
        }

        /// <summary>
        /// True when a build-arg entry's hash is the one of an unset argument (sha256 of the bare name). Saying so
        /// reveals nothing: anyone who knows the name can compute it.
        /// </summary>
        internal static bool IsUnsetBuildArg(string name, string hash)
        {
            using var worker = new HashWorker(bufferSize: 0);
            return string.Equals(worker.HashUtf8(CacheKeyCalculator.BuildArgText(name, null)), hash, StringComparison.Ordinal);
        }

        private static string ShowValue(string kind, string value, string open, string close) =>
            kind == KeyEntryKinds.Platform || kind == KeyEntryKinds.Target || kind == KeyEntryKinds.BaseImage ? open + value + close : "";

        public static string Label(string kind, string name)
        {
            switch (kind)
            {
                case KeyEntryKinds.Dockerfile: return "Dockerfile";
                case KeyEntryKinds.Target: return "target";
                case KeyEntryKinds.Platform: return "platform";
                case KeyEntryKinds.BaseImage: return "base image " + name;
                case KeyEntryKinds.BuildArg: return "build arg " + name;
                case KeyEntryKinds.AdditionalBuildArgs: return "EcrCacheAdditionalBuildArgs";
                case KeyEntryKinds.File: return "file " + name;
                case KeyEntryKinds.Json: return "JSON value " + name;
                case KeyEntryKinds.Algorithm: return "key algorithm";
                default: return kind + " " + name;
            }
        }

        private static int Rank(string kind)
        {
            switch (kind)
            {
                case KeyEntryKinds.Algorithm: return 0;
                case KeyEntryKinds.Dockerfile: return 1;
                case KeyEntryKinds.Target: return 2;
                case KeyEntryKinds.Platform: return 3;
                case KeyEntryKinds.BaseImage: return 4;
                case KeyEntryKinds.BuildArg: return 5;
                case KeyEntryKinds.AdditionalBuildArgs: return 6;
                default: return 7;
            }
        }

        /// <summary>Where a manifest entry's value may be shown (the rest print as "(hash)" only in full listings).</summary>
        public static string DisplayValue(KeyManifestEntry entry)
        {
            if (entry.Kind == KeyEntryKinds.BuildArg && IsUnsetBuildArg(entry.Name, entry.Hash))
            {
                return "unset (the Dockerfile's ARG default applies)";
            }

            return entry.Kind == KeyEntryKinds.BuildArg || entry.Kind == KeyEntryKinds.AdditionalBuildArgs
                ? "sha256 of the value (not shown)"
                : entry.Hash;
        }
    }
}
