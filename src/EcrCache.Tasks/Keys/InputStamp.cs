using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EcrCache.IO;

namespace EcrCache.Keys
{
    /// <summary>
    /// Remembers which key a set of <see cref="KeyInputs"/> produced, by what can be seen without reading the files, so
    /// that an unchanged tree does not hash its CacheOn files again (obj/ecrcache/inputs.json).
    /// <para>
    /// The fingerprint covers every property of <see cref="KeyInputs"/> except <see cref="KeyInputs.Platform"/> (kept
    /// beside it, so a new platform reuses the file hashes): strings and name/value lists by value (build-arg values and
    /// extra inputs such as base-image digests included; only their SHA-256 is stored), files (the Dockerfile and every
    /// CacheOn file with its relative path, JsonPath and Optional flag; an absent Optional file as absent) by <see cref="FileStat"/>: size, mtime and, on Linux, ctime,
    /// inode and device. It also covers the key algorithm version and the EcrCache.Tasks build (its module version id),
    /// so a new EcrCache never trusts an old stamp. A property of a type the stamp does not know turns it off.
    /// </para>
    /// <para>
    /// Racy files (git's "racily clean" problem): a file whose mtime or ctime is less than <see cref="RacyWindow"/> old
    /// when its metadata is taken could change again within the file system's timestamp granularity without its
    /// metadata changing. Then no stamp is saved (and an old one is removed), so the next run hashes again.
    /// </para>
    /// </summary>
    internal sealed class InputStamp
    {
        public const string FileName = "inputs.json";

        /// <summary>Files changed more recently than this before the stamp is taken make it untrustworthy.</summary>
        public static readonly TimeSpan RacyWindow = TimeSpan.FromSeconds(2);

        private const int FormatVersion = 1;

        private static readonly PropertyInfo[] InputProperties =
            typeof(KeyInputs).GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.Name, StringComparer.Ordinal).ToArray();

        private static readonly string BuildIdentity = typeof(InputStamp).Assembly.ManifestModule.ModuleVersionId.ToString("N");

        private InputStamp(string? fingerprint, string? untrustedReason, int files)
        {
            Fingerprint = fingerprint;
            UntrustedReason = untrustedReason;
            Files = files;
        }

        /// <summary>SHA-256 (hex) of everything but the platform, or null when the stamp cannot be used.</summary>
        public string? Fingerprint { get; }

        /// <summary>Why no stamp may be saved or trusted (a racy or missing file, an unknown input), or null.</summary>
        public string? UntrustedReason { get; }

        /// <summary>How many files were stat'ed.</summary>
        public int Files { get; }

        public bool Trusted => Fingerprint != null && UntrustedReason == null;

        /// <summary>Takes the metadata of every input file now (before hashing, so any later change alters it).</summary>
        /// <param name="knownStats">Metadata already taken of some files (by full path), for example by the options parser.</param>
        // Fully optimised at once: it runs once per build over every input file, in a process too short for tiering.
        [MethodImpl(JitHints.OptimizeNow)]
        internal static InputStamp Take(KeyInputs inputs, IReadOnlyDictionary<string, FileStat>? knownStats, DateTimeOffset? now = null)
        {
            if (inputs == null)
            {
                throw new ArgumentNullException(nameof(inputs));
            }

            var racyBefore = ((now ?? DateTimeOffset.UtcNow) - RacyWindow).ToUnixTimeMilliseconds() / 1000.0;
            using var sink = new Sink();
            sink.Add("ecrcache-input-stamp");
            sink.Add(FormatVersion);
            sink.Add(KeyManifest.AlgorithmVersion);
            sink.Add(BuildIdentity);
            sink.Add(FileStat.HasChangeTime ? "statx" : "fileinfo");
            string? untrusted = null;
            var files = 0;

            // An Optional CacheOn file may be missing: its absence is fingerprinted (Exists 0), so creating it changes
            // the fingerprint, and the stamp stays usable meanwhile.
            void AddFile(string path, string what, bool mayBeMissing = false)
            {
                files++;
                var stat = knownStats != null && knownStats.TryGetValue(path, out var known) ? known : FileStat.Of(path);
                sink.Add(path);
                sink.Add(stat.Exists ? 1 : 0);
                sink.Add(stat.Size);
                sink.Add(stat.MtimeSeconds);
                sink.Add(stat.MtimeNanoseconds);
                sink.Add(stat.CtimeSeconds);
                sink.Add(stat.CtimeNanoseconds);
                sink.Add((long)stat.Inode);
                sink.Add((long)stat.Device);
                if (untrusted == null)
                {
                    if (!stat.Exists)
                    {
                        if (!mayBeMissing)
                        {
                            untrusted = what + " " + path + " cannot be stat'ed";
                        }
                    }
                    else if (stat.LatestChangeSeconds >= racyBefore)
                    {
                        untrusted = what + " " + path + " changed less than " + RacyWindow.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s ago";
                    }
                }
            }

            foreach (var property in InputProperties)
            {
                if (property.Name == nameof(KeyInputs.Platform))
                {
                    continue;
                }

                sink.Add(property.Name);
                var value = property.GetValue(inputs);
                switch (value)
                {
                    case null:
                        sink.Add(-1);
                        break;
                    case string text when property.Name == nameof(KeyInputs.DockerfilePath):
                        sink.Add(text);
                        AddFile(text, "the Dockerfile");
                        break;
                    case string text:
                        sink.Add(text);
                        break;
                    case bool flag:
                        sink.Add(flag ? 1 : 0);
                        break;
                    case int number:
                        sink.Add(number);
                        break;
                    case IList<KeyValuePair<string, string?>> pairs: // a null value (an unset build arg) differs from ""
                        sink.Add(pairs.Count);
                        foreach (var pair in pairs)
                        {
                            sink.Add(pair.Key);
                            sink.Add(pair.Value);
                        }

                        break;
                    case IList<CacheOnInput> cacheOn:
                        sink.Add(cacheOn.Count);
                        foreach (var input in cacheOn)
                        {
                            sink.Add(input.RelativePath);
                            sink.Add(input.JsonPath);
                            sink.Add(input.Optional ? 1 : 0);
                            AddFile(input.FullPath, "the CacheOn file", mayBeMissing: input.Optional);
                        }

                        break;
                    case IEnumerable<string> strings:
                        foreach (var item in strings)
                        {
                            sink.Add(item);
                        }

                        sink.Add(-2);
                        break;
                    default:
                        // A key input of a type this stamp does not understand: never skip hashing for it.
                        return new InputStamp(null, "the key input " + property.Name + " (" + value.GetType().Name + ") is not covered by the input stamp", files);
                }
            }

            return new InputStamp(sink.Finish(), untrusted, files);
        }

        /// <summary>Takes the metadata of every input file now (before hashing, so any later change alters it).</summary>
        public static InputStamp Take(KeyInputs inputs, DateTimeOffset? now = null) => Take(inputs, null, now);

        /// <summary>The stamped platform and key when the stamp in <paramref name="directory"/> matches, else null.</summary>
        public StampedKey? TryRead(string directory)
        {
            if (!Trusted)
            {
                return null;
            }

            var path = Path.Combine(directory, FileName);
            try
            {
                if (!File.Exists(path))
                {
                    return null;
                }

                using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
                var root = doc.RootElement;
                if (root.ValueKind == JsonValueKind.Object
                    && root.TryGetProperty("version", out var version) && version.ValueKind == JsonValueKind.Number && version.GetInt32() == FormatVersion
                    && root.TryGetProperty("fingerprint", out var fingerprint) && fingerprint.ValueKind == JsonValueKind.String
                    && string.Equals(fingerprint.GetString(), Fingerprint, StringComparison.Ordinal)
                    && root.TryGetProperty("platform", out var platform) && platform.ValueKind == JsonValueKind.String
                    && root.TryGetProperty("key", out var key) && key.ValueKind == JsonValueKind.String
                    && IsHash(key.GetString()))
                {
                    return new StampedKey(platform.GetString()!, key.GetString()!);
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is JsonException || ex is FormatException || ex is InvalidOperationException)
            {
                // An unreadable stamp is no stamp.
            }

            return null;
        }

        /// <summary>
        /// Saves the stamp (only when its content changes: a no-op writes nothing). When the stamp is not trusted, an old
        /// stamp is removed instead, so it can never vouch for inputs that changed since.
        /// </summary>
        public void Save(string directory, string platform, string keyHash)
        {
            var path = Path.Combine(directory, FileName);
            if (!Trusted)
            {
                Delete(directory);
                return;
            }

            var text = "{\n  \"version\": " + FormatVersion.ToString(CultureInfo.InvariantCulture)
                + ",\n  \"fingerprint\": " + JsonSerializer.Serialize(Fingerprint)
                + ",\n  \"platform\": " + JsonSerializer.Serialize(platform)
                + ",\n  \"key\": " + JsonSerializer.Serialize(keyHash) + "\n}\n";
            AtomicFile.WriteAllTextIfDifferent(path, text);
        }

        /// <summary>Removes the stamp in <paramref name="directory"/> (for example before the key files are rewritten).</summary>
        public static void Delete(string directory)
        {
            var path = Path.Combine(directory, FileName);
            if (File.Exists(path))
            {
                File.Delete(path);
            }
        }

        private static bool IsHash(string? value) =>
            value != null && value.Length == 64 && value.All(c => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));

        /// <summary>Streams length-prefixed fields into SHA-256 (no field can run into the next).</summary>
        private sealed class Sink : IDisposable
        {
            private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            private readonly byte[] _buffer = new byte[16 * 1024];
            private int _used;

            [MethodImpl(JitHints.OptimizeNow)]
            public void Add(string? text)
            {
                if (text == null)
                {
                    Add(-1);
                    return;
                }

                var count = Encoding.UTF8.GetByteCount(text);
                Add(count);
                if (count > _buffer.Length - _used)
                {
                    Flush();
                }

                if (count > _buffer.Length)
                {
                    var bytes = Encoding.UTF8.GetBytes(text);
                    _sha.AppendData(bytes, 0, bytes.Length);
                    return;
                }

                _used += Encoding.UTF8.GetBytes(text, 0, text.Length, _buffer, _used);
            }

            [MethodImpl(JitHints.OptimizeNow)]
            public void Add(long number)
            {
                if (_buffer.Length - _used < 8)
                {
                    Flush();
                }

                for (var i = 0; i < 8; i++)
                {
                    _buffer[_used++] = (byte)(number >> (8 * i));
                }
            }

            public string Finish()
            {
                Flush();
                return Hex.ToLower(_sha.GetHashAndReset());
            }

            public void Dispose() => _sha.Dispose();

            private void Flush()
            {
                if (_used > 0)
                {
                    _sha.AppendData(_buffer, 0, _used);
                    _used = 0;
                }
            }
        }
    }

    /// <summary>What an input stamp remembers: the platform the key was computed for, and the key.</summary>
    internal sealed record StampedKey(string Platform, string KeyHash);
}
