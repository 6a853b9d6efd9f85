using System.Diagnostics;
using EcrCache.IO;
using EcrCache.Keys;

namespace EcrCache.Core
{
    /// <summary>
    /// The key step of the engine with the <see cref="InputStamp"/>: when every input is as it was when the last key was
    /// computed (files by metadata, everything else by value, base-image digests included), the key is taken from the
    /// stamp, no file is read and nothing is written. Otherwise the key is computed and key.txt, key-manifest.json
    /// (when they change) and the stamp are written.
    /// </summary>
    internal static class KeyStage
    {
        /// <param name="inputs">Complete inputs, platform included.</param>
        /// <param name="knownStats">Metadata already taken of CacheOn files (OptionsParser), by full path.</param>
        /// <param name="now">The clock for the racy-file rule (tests).</param>
        public static CacheKey Compute(
            KeyInputs inputs,
            string directory,
            IReadOnlyDictionary<string, FileStat>? knownStats,
            IBuildLog log,
            CancellationToken cancellationToken,
            DateTimeOffset? now = null)
        {
            var watch = Stopwatch.StartNew();
            var keyFile = Path.Combine(directory, CacheEngine.KeyFileName);
            var manifestFile = Path.Combine(directory, CacheEngine.ManifestFileName);
            var stamp = InputStamp.Take(inputs, knownStats, now);
            var stamped = stamp.TryRead(directory);
            if (stamped != null
                && string.Equals(stamped.Platform, inputs.Platform, StringComparison.Ordinal)
                && File.Exists(manifestFile)
                && FileHolds(keyFile, stamped.KeyHash + "\n"))
            {
                log.Detail($"Inputs unchanged since the last run ({stamp.Files} files checked in {watch.ElapsedMilliseconds} ms): key from {InputStamp.FileName}, nothing hashed.");
                return new CacheKey(stamped.KeyHash, () => LoadManifest(manifestFile, stamped.KeyHash));
            }

            if (stamp.UntrustedReason != null)
            {
                log.Detail("Hashing every input: " + stamp.UntrustedReason + ".");
            }

            var key = CacheKeyCalculator.Compute(inputs, cancellationToken);
            Directory.CreateDirectory(directory);
            AtomicFile.WriteAllTextIfDifferent(keyFile, key.Hash + "\n");
            AtomicFile.WriteAllTextIfDifferent(manifestFile, key.Manifest.ToJson());
            stamp.Save(directory, inputs.Platform ?? "", key.Hash);
            if (stamp.Trusted)
            {
                log.Detail($"Saved {InputStamp.FileName}: the next run with unchanged inputs skips hashing.");
            }

            return key;
        }

        private static KeyManifest LoadManifest(string path, string expectedHash)
        {
            var manifest = KeyManifest.FromJson(File.ReadAllText(path));
            if (!string.Equals(manifest.ComputeKeyHash(), expectedHash, StringComparison.Ordinal))
            {
                throw new InvalidDataException(path + " does not belong to the key " + expectedHash + "; delete obj/ecrcache and build again.");
            }

            return manifest;
        }

        private static bool FileHolds(string path, string content)
        {
            try
            {
                return File.Exists(path) && string.Equals(File.ReadAllText(path), content, StringComparison.Ordinal);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return false;
            }
        }
    }
}
