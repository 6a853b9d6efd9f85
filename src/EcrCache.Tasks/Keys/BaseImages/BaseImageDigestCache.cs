using System.Text;
using System.Text.Json;
using EcrCache.IO;

namespace EcrCache.Keys.BaseImages
{
    /// <summary>
    /// Base-image digests resolved from registries, remembered in obj/ecrcache/base-images.json for
    /// EcrCacheBaseImageDigestsCacheMinutes so that a no-op build makes no registry request; an entry older than that
    /// is revalidated with one HEAD, which renews it. Only registry answers are kept (the tag's own digest, the same for
    /// every platform), plus the marker "not-in-registry" for a base that only the local daemon has (its image id is
    /// asked from the daemon every time, never cached; unresolved names are never cached). A lost, unreadable or older
    /// (version 1: per-platform manifest digests) file just means fresh look-ups.
    /// </summary>
    internal sealed class BaseImageDigestCache
    {
        public const string FileName = "base-images.json";

        private const int FileVersion = 2;

        private readonly string _path;
        private readonly TimeSpan _maxAge;
        private readonly IBuildLog _log;
        private readonly Dictionary<string, (string Digest, DateTimeOffset Resolved)> _entries = new Dictionary<string, (string, DateTimeOffset)>(StringComparer.Ordinal);
        private bool _dirty;

        public BaseImageDigestCache(string intermediateDirectory, TimeSpan maxAge, IBuildLog log)
        {
            _path = Path.Combine(intermediateDirectory, FileName);
            _maxAge = maxAge;
            _log = log;
            Load();
        }

        public string FilePath => _path;

        /// <summary>The cached digest of <paramref name="reference"/>, if younger than the limit (any age with <paramref name="anyAge"/>).</summary>
        public bool TryGet(string reference, bool anyAge, out string digest, out DateTimeOffset resolved)
        {
            digest = "";
            resolved = default;
            if (!_entries.TryGetValue(reference, out var entry))
            {
                return false;
            }

            if (!anyAge && (_maxAge <= TimeSpan.Zero || DateTimeOffset.UtcNow - entry.Resolved > _maxAge || entry.Resolved > DateTimeOffset.UtcNow.AddMinutes(5)))
            {
                return false;
            }

            digest = entry.Digest;
            resolved = entry.Resolved;
            return true;
        }

        /// <summary>Records a registry's answer (also one that confirms the cached digest: the window starts again).</summary>
        public void Set(string reference, string digest)
        {
            _entries[reference] = (digest, DateTimeOffset.UtcNow);
            _dirty = true;
        }

        /// <summary>For tests and tools: moves the time an entry was resolved (e.g. past the window).</summary>
        internal void SetResolvedTime(string reference, DateTimeOffset resolved)
        {
            if (_entries.TryGetValue(reference, out var entry))
            {
                _entries[reference] = (entry.Digest, resolved);
                _dirty = true;
            }
        }

        /// <summary>Writes the file when something was added (never when caching is off).</summary>
        public void Save()
        {
            if (!_dirty || _maxAge <= TimeSpan.Zero)
            {
                return;
            }

            try
            {
                using var buffer = new MemoryStream();
                using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("version", FileVersion);
                    writer.WriteStartArray("entries");
                    var keys = new List<string>(_entries.Keys);
                    keys.Sort(StringComparer.Ordinal);
                    foreach (var key in keys)
                    {
                        var entry = _entries[key];
                        writer.WriteStartObject();
                        writer.WriteString("reference", key);
                        writer.WriteString("digest", entry.Digest);
                        writer.WriteString("resolved", entry.Resolved.ToString("o"));
                        writer.WriteEndObject();
                    }

                    writer.WriteEndArray();
                    writer.WriteEndObject();
                }

                AtomicFile.WriteAllText(_path, Encoding.UTF8.GetString(buffer.ToArray()) + "\n");

                _dirty = false;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                _log.Detail("Could not write " + _path + ": " + ex.Message);
            }
        }

        private void Load()
        {
            try
            {
                if (!File.Exists(_path))
                {
                    return;
                }

                using var doc = JsonDocument.Parse(File.ReadAllText(_path));
                if (!doc.RootElement.TryGetProperty("version", out var version) || version.ValueKind != JsonValueKind.Number
                    || !version.TryGetInt32(out var v) || v != FileVersion
                    || !doc.RootElement.TryGetProperty("entries", out var entries) || entries.ValueKind != JsonValueKind.Array)
                {
                    return;
                }

                foreach (var e in entries.EnumerateArray())
                {
                    if (e.TryGetProperty("reference", out var r) && r.ValueKind == JsonValueKind.String
                        && e.TryGetProperty("digest", out var d) && d.ValueKind == JsonValueKind.String
                        && e.TryGetProperty("resolved", out var t) && t.ValueKind == JsonValueKind.String
                        && DateTimeOffset.TryParse(t.GetString(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var resolved))
                    {
                        _entries[r.GetString()!] = (d.GetString()!, resolved);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException || ex is JsonException || ex is UnauthorizedAccessException || ex is InvalidOperationException)
            {
                _log.Detail("Ignoring unreadable " + _path + ": " + ex.Message);
            }
        }
    }
}
