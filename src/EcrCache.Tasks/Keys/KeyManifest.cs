using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EcrCache.Keys
{
    /// <summary>The kinds of <see cref="KeyManifestEntry"/>, in the order they appear in a manifest.</summary>
    internal static class KeyEntryKinds
    {
        public const string Algorithm = "algorithm";
        public const string Dockerfile = "dockerfile";
        public const string Target = "target";
        public const string Platform = "platform";
        public const string BaseImage = "base-image";
        public const string BuildArg = "build-arg";
        public const string AdditionalBuildArgs = "additional-build-args";
        public const string File = "file";
        public const string Json = "json";
        public const string Extra = "extra";
    }

    /// <summary>One input of a cache key. <see cref="Hash"/> is a SHA-256 (hex) or, for some kinds, a plain value.</summary>
    internal sealed class KeyManifestEntry : IEquatable<KeyManifestEntry>
    {
        public KeyManifestEntry(string kind, string name, string hash)
        {
            Kind = kind ?? throw new ArgumentNullException(nameof(kind));
            Name = name ?? throw new ArgumentNullException(nameof(name));
            Hash = hash ?? throw new ArgumentNullException(nameof(hash));
        }

        public string Kind { get; }

        public string Name { get; }

        public string Hash { get; }

        public bool Equals(KeyManifestEntry? other) =>
            other != null
            && string.Equals(Kind, other.Kind, StringComparison.Ordinal)
            && string.Equals(Name, other.Name, StringComparison.Ordinal)
            && string.Equals(Hash, other.Hash, StringComparison.Ordinal);

        public override bool Equals(object? obj) => Equals(obj as KeyManifestEntry);

        public override int GetHashCode()
        {
            unchecked
            {
                return (StringComparer.Ordinal.GetHashCode(Kind) * 397 ^ StringComparer.Ordinal.GetHashCode(Name)) * 397
                    ^ StringComparer.Ordinal.GetHashCode(Hash);
            }
        }

        public override string ToString() => Kind + " " + Name + " " + Hash;
    }

    /// <summary>The inputs of a cache key, in key order. See <see cref="CacheKeyCalculator"/> for the format.</summary>
    internal sealed class KeyManifest
    {
        /// <summary>The version of the key algorithm (and of this manifest's JSON form).</summary>
        public const int AlgorithmVersion = 2;

        public KeyManifest(int version, IEnumerable<KeyManifestEntry> entries)
        {
            if (entries == null)
            {
                throw new ArgumentNullException(nameof(entries));
            }

            var list = new List<KeyManifestEntry>(entries);
            foreach (var entry in list)
            {
                if (entry == null)
                {
                    throw new ArgumentException("A manifest entry is null.", nameof(entries));
                }
            }

            Version = version;
            Entries = new ReadOnlyCollection<KeyManifestEntry>(list);
        }

        public int Version { get; }

        public IReadOnlyList<KeyManifestEntry> Entries { get; }

        /// <summary>
        /// The key text: one line <c>Kind TAB Name TAB Hash LF</c> per entry, in manifest order, each field escaped
        /// (<c>\</c> as <c>\\</c>, TAB as <c>\t</c>, LF as <c>\n</c>, CR as <c>\r</c>).
        /// </summary>
        public string ToKeyText()
        {
            var sb = new StringBuilder(Entries.Count * 100);
            foreach (var entry in Entries)
            {
                AppendKeyLine(sb, entry);
            }

            return sb.ToString();
        }

        /// <summary>SHA-256 (64 lower-case hex digits) of the UTF-8 of <see cref="ToKeyText"/>: the cache key.</summary>
        public string ComputeKeyHash()
        {
            // Streams the key text through the hash in chunks rather than building it whole (large CacheOn trees).
            const int ChunkChars = 16 * 1024;
            using var hasher = new HashWorker(bufferSize: 0);
            var sb = new StringBuilder(ChunkChars + 1024);
            foreach (var entry in Entries)
            {
                AppendKeyLine(sb, entry);
                if (sb.Length >= ChunkChars)
                {
                    hasher.AppendUtf8(sb);
                    sb.Clear();
                }
            }

            hasher.AppendUtf8(sb);
            return hasher.Finish();
        }

        private static void AppendKeyLine(StringBuilder sb, KeyManifestEntry entry)
        {
            AppendKeyField(sb, entry.Kind);
            sb.Append('\t');
            AppendKeyField(sb, entry.Name);
            sb.Append('\t');
            AppendKeyField(sb, entry.Hash);
            sb.Append('\n');
        }

        /// <summary>
        /// Indented JSON, one entry per line, LF line ends, no trailing new line; deterministic (strings escaped as in
        /// <see cref="CanonicalJson"/>):
        /// <code>
        /// {
        ///   "version": 1,
        ///   "entries": [
        ///     {"kind": "algorithm", "name": "ecrcache", "hash": "1"},
        ///     ...
        ///   ]
        /// }
        /// </code>
        /// </summary>
        public string ToJson()
        {
            var sb = new StringBuilder(64 + Entries.Count * 120);
            sb.Append("{\n  \"version\": ").Append(Version.ToString(CultureInfo.InvariantCulture)).Append(",\n  \"entries\": [");
            for (var i = 0; i < Entries.Count; i++)
            {
                var entry = Entries[i];
                sb.Append(i == 0 ? "\n    {\"kind\": " : ",\n    {\"kind\": ");
                CanonicalJson.WriteString(sb, entry.Kind);
                sb.Append(", \"name\": ");
                CanonicalJson.WriteString(sb, entry.Name);
                sb.Append(", \"hash\": ");
                CanonicalJson.WriteString(sb, entry.Hash);
                sb.Append('}');
            }

            sb.Append(Entries.Count == 0 ? "]\n}" : "\n  ]\n}");
            return sb.ToString();
        }

        /// <summary>Reads the form written by <see cref="ToJson"/> (any JSON formatting; unknown members are ignored).</summary>
        /// <exception cref="FormatException">The text is not a key manifest.</exception>
        public static KeyManifest FromJson(string json)
        {
            if (json == null)
            {
                throw new ArgumentNullException(nameof(json));
            }

            try
            {
                using var doc = JsonDocument.Parse(json);
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object
                    || !root.TryGetProperty("version", out var versionElement)
                    || versionElement.ValueKind != JsonValueKind.Number
                    || !versionElement.TryGetInt32(out var version)
                    || !root.TryGetProperty("entries", out var entriesElement)
                    || entriesElement.ValueKind != JsonValueKind.Array)
                {
                    throw new FormatException("A key manifest is an object with a numeric 'version' and an 'entries' array.");
                }

                var entries = new List<KeyManifestEntry>(entriesElement.GetArrayLength());
                foreach (var e in entriesElement.EnumerateArray())
                {
                    entries.Add(new KeyManifestEntry(ReadString(e, "kind"), ReadString(e, "name"), ReadString(e, "hash")));
                }

                return new KeyManifest(version, entries);
            }
            catch (JsonException ex)
            {
                throw new FormatException("The key manifest is not valid JSON: " + ex.Message, ex);
            }
            catch (InvalidOperationException ex)
            {
                throw new FormatException("The key manifest is not valid: " + ex.Message, ex);
            }
        }

        /// <summary>As <see cref="FromJson"/>, returning false instead of throwing.</summary>
        public static bool TryFromJson(string? json, out KeyManifest? manifest)
        {
            manifest = null;
            if (json == null)
            {
                return false;
            }

            try
            {
                manifest = FromJson(json);
                return true;
            }
            catch (FormatException)
            {
                return false;
            }
        }

        /// <summary>What changed from <paramref name="previous"/> (null: nothing to compare with) to <paramref name="current"/>.
        /// Entries are matched by (Kind, Name).</summary>
        public static KeyManifestDiff Diff(KeyManifest? previous, KeyManifest current)
        {
            if (current == null)
            {
                throw new ArgumentNullException(nameof(current));
            }

            var added = new List<KeyManifestEntry>();
            var removed = new List<KeyManifestEntry>();
            var changed = new List<KeyManifestChange>();
            if (previous == null)
            {
                added.AddRange(current.Entries);
                return new KeyManifestDiff(null, current.Version, added, removed, changed);
            }

            var before = new Dictionary<(string, string), KeyManifestEntry>();
            foreach (var e in previous.Entries)
            {
                before[(e.Kind, e.Name)] = e;
            }

            var seen = new HashSet<(string, string)>();
            foreach (var e in current.Entries)
            {
                var id = (e.Kind, e.Name);
                seen.Add(id);
                if (!before.TryGetValue(id, out var old))
                {
                    added.Add(e);
                }
                else if (!string.Equals(old.Hash, e.Hash, StringComparison.Ordinal))
                {
                    changed.Add(new KeyManifestChange(e.Kind, e.Name, old.Hash, e.Hash));
                }
            }

            foreach (var e in previous.Entries)
            {
                if (!seen.Contains((e.Kind, e.Name)))
                {
                    removed.Add(e);
                }
            }

            return new KeyManifestDiff(previous.Version, current.Version, added, removed, changed);
        }

        internal static void AppendKeyField(StringBuilder sb, string value)
        {
            var runStart = 0;
            for (var i = 0; i < value.Length; i++)
            {
                var c = value[i];
                string escape;
                switch (c)
                {
                    case '\\': escape = "\\\\"; break;
                    case '\t': escape = "\\t"; break;
                    case '\n': escape = "\\n"; break;
                    case '\r': escape = "\\r"; break;
                    default: continue;
                }

                sb.Append(value, runStart, i - runStart).Append(escape);
                runStart = i + 1;
            }

            sb.Append(value, runStart, value.Length - runStart);
        }

        private static string ReadString(JsonElement e, string name)
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
            {
                throw new FormatException("Each key manifest entry needs string members 'kind', 'name' and 'hash'.");
            }

            return value.GetString()!;
        }
    }

    /// <summary>An entry present in both manifests with a different <see cref="KeyManifestEntry.Hash"/>.</summary>
    internal sealed record KeyManifestChange(string Kind, string Name, string PreviousHash, string CurrentHash)
    {
        public override string ToString() => Kind + " " + Name + " " + PreviousHash + " -> " + CurrentHash;
    }

    /// <summary>The result of <see cref="KeyManifest.Diff"/>; lists are in manifest order.</summary>
    internal sealed class KeyManifestDiff
    {
        internal KeyManifestDiff(
            int? previousVersion,
            int currentVersion,
            IList<KeyManifestEntry> added,
            IList<KeyManifestEntry> removed,
            IList<KeyManifestChange> changed)
        {
            PreviousVersion = previousVersion;
            CurrentVersion = currentVersion;
            Added = new ReadOnlyCollection<KeyManifestEntry>(added);
            Removed = new ReadOnlyCollection<KeyManifestEntry>(removed);
            Changed = new ReadOnlyCollection<KeyManifestChange>(changed);
        }

        /// <summary>False when there was no previous manifest (everything is then in <see cref="Added"/>).</summary>
        public bool HasPrevious => PreviousVersion.HasValue;

        public int? PreviousVersion { get; }

        public int CurrentVersion { get; }

        public IReadOnlyList<KeyManifestEntry> Added { get; }

        public IReadOnlyList<KeyManifestEntry> Removed { get; }

        public IReadOnlyList<KeyManifestChange> Changed { get; }

        /// <summary>True when both manifests have the same entries (so the same key).</summary>
        public bool IsEmpty => HasPrevious && Added.Count == 0 && Removed.Count == 0 && Changed.Count == 0;

        /// <summary>
        /// One human-readable line per difference, for explaining a cache miss, e.g. "file 'package.json' changed",
        /// "platform changed from 'linux/amd64' to 'linux/arm64'". Build-arg values are never shown (only hashes are known).
        /// </summary>
        public IReadOnlyList<string> Describe()
        {
            var lines = new List<string>();
            if (!HasPrevious)
            {
                lines.Add("there is no previous key manifest to compare with");
                return lines;
            }

            if (PreviousVersion != CurrentVersion)
            {
                lines.Add("the key algorithm version changed from " + PreviousVersion!.Value.ToString(CultureInfo.InvariantCulture)
                    + " to " + CurrentVersion.ToString(CultureInfo.InvariantCulture));
            }

            foreach (var c in Changed)
            {
                lines.Add(ShowsValue(c.Kind)
                    ? Label(c.Kind, c.Name) + " changed from '" + c.PreviousHash + "' to '" + c.CurrentHash + "'"
                    : Label(c.Kind, c.Name) + " changed");
            }

            foreach (var e in Added)
            {
                lines.Add(Label(e.Kind, e.Name) + " added" + (ShowsValue(e.Kind) ? " ('" + e.Hash + "')" : ""));
            }

            foreach (var e in Removed)
            {
                lines.Add(Label(e.Kind, e.Name) + " removed" + (ShowsValue(e.Kind) ? " (was '" + e.Hash + "')" : ""));
            }

            return lines;
        }

        public override string ToString() => string.Join("; ", Describe());

        private static bool ShowsValue(string kind) =>
            kind == KeyEntryKinds.Algorithm || kind == KeyEntryKinds.Target || kind == KeyEntryKinds.Platform || kind == KeyEntryKinds.Extra;

        private static string Label(string kind, string name) => name.Length == 0 ? kind : kind + " '" + name + "'";
    }
}
