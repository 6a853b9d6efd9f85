using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using EcrCache.Core;
using EcrCache.Docker;
using EcrCache.Keys.Dockerfiles;
using EcrCache.Logging;
using EcrCache.Registries.Auth;

namespace EcrCache.Keys.BaseImages
{
    /// <summary>The engine's entry point: from <see cref="CacheOptions"/> to the base-image key entries.</summary>
    public static class BaseImageKeyInputs
    {
        /// <summary>
        /// Parses the Dockerfile's FROM lines and resolves the external images for the build platforms. With
        /// <paramref name="offline"/> (ExplainCachedImageKey) neither docker nor a registry is asked.
        /// </summary>
        /// <param name="daemonPlatform">The daemon's os/arch (BUILDPLATFORM, and the target when EcrCachePlatform is not set); may be null offline.</param>
        public static async Task<IReadOnlyList<ResolvedBaseImage>> ResolveAsync(
            CacheOptions options,
            string? daemonPlatform,
            IProcessRunner runner,
            DockerCli? docker,
            IBuildLog log,
            bool offline,
            CancellationToken cancellationToken)
        {
            if (options.BaseImageDigests == BaseImageDigestMode.Off)
            {
                return new List<ResolvedBaseImage>();
            }

            string text;
            try
            {
                text = options.DockerfileInline ?? File.ReadAllText(options.DockerfilePath!);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is ArgumentNullException)
            {
                return new List<ResolvedBaseImage>(); // the key calculator reports the unreadable Dockerfile
            }

            // Each target platform is parsed on its own: FROM lines may use $TARGETARCH and friends.
            var platforms = options.Platforms.Count > 0 ? options.Platforms.ToList() : new List<string> { daemonPlatform ?? "" };
            var perPlatform = platforms
                .Select(p => (Platform: p, Froms: DockerfileParser.ParseFromInstructions(text, options.BuildArgs, p.Length == 0 ? null : p, daemonPlatform ?? (p.Length == 0 ? null : p))))
                .ToList();
            if (!perPlatform.Any(x => x.Froms.Any(f => f.IsExternalImage)))
            {
                return new List<ResolvedBaseImage>();
            }

            var cache = new BaseImageDigestCache(options.IntermediateDirectory, TimeSpan.FromMinutes(options.BaseImageDigestsCacheMinutes), log);
            var config = DockerConfig.Load(options.Environment, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
            var credentials = new DockerConfigCredentialProvider(config, runner, options.Environment, log);
            Func<string, CancellationToken, Task<string?>>? localId = null;
            if (docker != null && !offline)
            {
                localId = async (image, token) =>
                {
                    var result = await docker.RunAsync(new[] { "image", "inspect", "--format", "{{.Id}}", image }, token).ConfigureAwait(false);
                    return result.ExitCode == 0 ? result.StandardOutput.Trim() : null;
                };
            }

            using var resolver = new BaseImageResolver(log, credentials, localId);
            if (offline)
            {
                // Local-only images (keyed on their image id) are not cached: take them from the last computed key.
                var manifestPath = Path.Combine(options.IntermediateDirectory, CacheEngine.ManifestFileName);
                if (File.Exists(manifestPath) && KeyManifest.TryFromJson(File.ReadAllText(manifestPath), out var last))
                {
                    foreach (var entry in last!.Entries.Where(e => e.Kind == KeyEntryKinds.BaseImage && e.Hash != ResolvedBaseImage.Unresolved))
                    {
                        resolver.OfflineFallback[entry.Name] = entry.Hash;
                    }
                }
            }

            var byName = new Dictionary<string, ResolvedBaseImage>(StringComparer.Ordinal);
            foreach (var (platform, froms) in perPlatform)
            {
                foreach (var image in await resolver.ResolveAsync(froms, new[] { platform }, options.BaseImageDigests, cache, offline, cancellationToken).ConfigureAwait(false))
                {
                    byName[image.Name] = image;
                }
            }

            var resolved = byName.Values.OrderBy(i => i.Name, StringComparer.Ordinal).ToList();
            if (resolver.RegistryLookups > 0)
            {
                log.Detail("Resolved " + resolver.RegistryLookups + " base image digest(s) from registries; cached in " + cache.FilePath + " for " + options.BaseImageDigestsCacheMinutes + " min.");
            }

            return resolved;
        }

        /// <summary>True when every base image was resolved through a registry (so docker build --pull builds exactly what was keyed).</summary>
        public static bool AllFromRegistry(IReadOnlyList<ResolvedBaseImage> images) =>
            images.Count > 0 && images.All(i => i.Source == ResolvedBaseImage.FromRegistry || i.Source == ResolvedBaseImage.FromCache || i.Source == ResolvedBaseImage.Pinned);
    }
}
