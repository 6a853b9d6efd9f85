using System.Globalization;
using System.Text.Json;
using EcrCache.Core;
using EcrCache.Docker;
using EcrCache.Keys.BaseImages;
using EcrCache.Options;
using EcrCache.Processes;

namespace EcrCache.Keys.Explain
{
    /// <summary>Builds <see cref="KeyInputs"/> from options: shared by the engine and ExplainCachedImageKey.</summary>
    internal static class KeyInputsFactory
    {
        public static KeyInputs Create(CacheOptions options, string platform, IEnumerable<ResolvedBaseImage> baseImages)
        {
            var inputs = new KeyInputs
            {
                DockerfilePath = options.DockerfilePath,
                DockerfileInline = options.DockerfileInline,
                Target = options.Target,
                Platform = platform,
                AdditionalBuildArgs = options.AdditionalBuildArgs,
            };
            foreach (var arg in options.BuildArgs)
            {
                inputs.BuildArgs.Add(arg);
            }

            foreach (var file in options.CacheOn)
            {
                inputs.CacheOn.Add(file);
            }

            foreach (var image in baseImages)
            {
                inputs.BaseImages.Add(new KeyValuePair<string, string>(image.Name, image.Value));
            }

            return inputs;
        }
    }

    /// <summary>
    /// ExplainCachedImageKey: prints the whole key manifest and what changed since the last key EnsureCachedImage
    /// ensured from this project, without docker and without registries. The platform is EcrCachePlatform, else the
    /// one the last EnsureCachedImage run saw (obj/ecrcache/ensured.json), else "unknown"; base-image digests come
    /// from obj/ecrcache/base-images.json whatever their age, else from the last computed key (key-manifest.json, which
    /// also holds local-only base images' ids), else they are "unresolved". When either is unknown the
    /// key printed cannot be the real one, and the output says so. Nothing is written.
    /// </summary>
    internal static class KeyExplainer
    {
        public const string UnknownPlatform = "unknown";

        public static async Task<CacheKey> ExplainAsync(CacheOptions options, IBuildLog log, CancellationToken cancellationToken)
        {
            string platform;
            string platformSource;
            if (options.Platform != null)
            {
                platform = options.Platform;
                platformSource = "EcrCachePlatform";
            }
            else
            {
                var stamped = ReadStampedPlatform(options.IntermediateDirectory);
                platform = stamped ?? UnknownPlatform;
                platformSource = stamped != null ? "the daemon's, as the last EnsureCachedImage run saw it" : "unknown: no EnsureCachedImage run yet and no EcrCachePlatform";
            }

            var images = await BaseImageKeyInputs.ResolveAsync(
                options, platform == UnknownPlatform ? null : platform.Split(',')[0], ProcessRunner.Instance, null, log, offline: true, cancellationToken).ConfigureAwait(false);
            var key = CacheKeyCalculator.Compute(KeyInputsFactory.Create(options, platform, images), cancellationToken);

            log.Important("EcrCache key for " + options.ProjectName + ": " + key.Hash + " (tag " + key.Tag + ")");
            log.Important("  platform: " + platform + " (" + platformSource + ")");
            var unresolved = images.Where(i => i.Source == ResolvedBaseImage.Unresolved).ToList();
            if (platform == UnknownPlatform || unresolved.Count > 0)
            {
                log.Important("  note: this is not the key EnsureCachedImage would use: "
                    + (platform == UnknownPlatform ? "the platform is unknown (set EcrCachePlatform or run EnsureCachedImage once)" : "")
                    + (platform == UnknownPlatform && unresolved.Count > 0 ? "; " : "")
                    + (unresolved.Count > 0 ? unresolved.Count + " base image digest(s) are not in " + BaseImageDigestCache.FileName + " (run EnsureCachedImage or ComputeCachedImageKey to resolve them)" : ""));
            }

            log.Important("  manifest (" + key.Manifest.Entries.Count + " entries; kind, name, value):");
            foreach (var entry in key.Manifest.Entries)
            {
                var name = entry.Name.Length == 0 ? "" : " " + entry.Name;
                var suffix = entry.Kind == KeyEntryKinds.BaseImage ? " [" + (images.FirstOrDefault(i => i.Name == entry.Name)?.Source ?? "") + "]" : "";
                log.Important("    " + entry.Kind + name + " = " + MissExplanation.DisplayValue(entry) + suffix);
            }

            var previous = MissExplanation.ReadPrevious(options.IntermediateDirectory);
            if (previous == null)
            {
                log.Important("  changes: no earlier key from this project to compare with (" + MissExplanation.PreviousManifestFileName + " is written by EnsureCachedImage).");
            }
            else
            {
                var previousKey = new CacheKey(previous);
                var lines = MissExplanation.Describe(previous, key.Manifest);
                log.Important(lines.Count == 0
                    ? "  changes since the last ensured key " + previousKey.Tag + ": none (same inputs, same key)."
                    : "  changes since the last ensured key " + previousKey.Tag + ":");
                foreach (var line in lines)
                {
                    log.Important("    - " + line);
                }
            }

            return key;
        }

        /// <summary>The platform of the last EnsureCachedImage run, whatever daemon it used, or null.</summary>
        internal static string? ReadStampedPlatform(string intermediateDirectory)
        {
            var path = Path.Combine(intermediateDirectory, CacheEngine.StampFileName);
            try
            {
                if (!File.Exists(path))
                {
                    return null;
                }

                using var doc = JsonDocument.Parse(File.ReadAllText(path));
                return doc.RootElement.TryGetProperty("platform", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            }
            catch (Exception ex) when (ex is IOException || ex is JsonException || ex is UnauthorizedAccessException || ex is InvalidOperationException)
            {
                return null;
            }
        }
    }
}
