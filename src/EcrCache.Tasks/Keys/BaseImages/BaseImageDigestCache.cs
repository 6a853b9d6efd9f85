using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Json;
using EcrCache.IO;
using EcrCache.Logging;

namespace EcrCache.Keys.BaseImages
{
    /// <summary>
    /// Base-image digests resolved from registries, remembered in obj/ecrcache/base-images.json for
    /// EcrCacheBaseImageDigestsCacheMinutes so that a no-op build makes no registry request. Only registry answers are
    /// kept, plus the marker "not-in-registry" for a base that only the local daemon has (its image id is asked from
    /// the daemon every time, never cached; unresolved names are never cached). A lost or unreadable file just means
    /// fresh look-ups.
    /// </summary>
    public sealed class BaseImageDigestCache
    {
        public const string FileName = "base-images.json";

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

        /// <summary>The cached digest of <paramref name="reference"/> for <paramref name="platform"/>, if younger than the limit (any age with <paramref name="anyAge"/>).</summary>
        public bool TryGet(string reference, string platform, bool anyAge, out string digest, out DateTimeOffset resolved)
        {
            digest = "";
            resolved = default;
            if (!_entries.TryGetValue(Key(reference, platform), out var entry))
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

        public void Set(string reference, string platform, string digest)
        {
            _entries[Key(reference, platform)] = (digest, DateTimeOffset.UtcNow);
            _dirty = true;
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
                    writer.WriteNumber("version", 1);
                    writer.WriteStartArray("entries");
                    var keys = new List<string>(_entries.Keys);
                    keys.Sort(StringComparer.Ordinal);
                    foreach (var key in keys)
                    {
                        var split = key.IndexOf('\n');
                        var entry = _entries[key];
                        writer.WriteStartObject();
                        writer.WriteString("reference", key.Substring(0, split));
                        writer.WriteString("platform", key.Substring(split + 1));
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

        private static string Key(string reference, string platform) => reference + "\n" + platform;

        private void Load()
        {
            try
            {
                if (!File.Exists(_path))
                {
                    return;
                }

                using var doc = JsonDocument.Parse(File.ReadAllText(_path));
                if (!doc.RootElement.TryGetProperty("entries", out var entries) || entries.ValueKind != JsonValueKind.Array)
                {
                    return;
                }

                foreach (var e in entries.EnumerateArray())
                {
                    if (e.TryGetProperty("reference", out var r) && r.ValueKind == JsonValueKind.String
                        && e.TryGetProperty("platform", out var p) && p.ValueKind == JsonValueKind.String
                        && e.TryGetProperty("digest", out var d) && d.ValueKind == JsonValueKind.String
                        && e.TryGetProperty("resolved", out var t) && t.ValueKind == JsonValueKind.String
                        && DateTimeOffset.TryParse(t.GetString(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var resolved))
                    {
                        _entries[Key(r.GetString()!, p.GetString()!)] = (d.GetString()!, resolved);
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
