using EcrCache.Core;
using EcrCache.Docker;
using EcrCache.Keys.Dockerfiles;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;

namespace EcrCache.Keys.BaseImages
{
    /// <summary>The engine's entry point: from <see cref="CacheOptions"/> to the base-image key entries.</summary>
    internal static class BaseImageKeyInputs
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

            // Errors point at the Dockerfile's lines; inline text at the project file (its lines are not the Dockerfile's).
            var file = options.DockerfileInline == null ? options.DockerfilePath : null;

            // Each target platform is parsed on its own: FROM lines may use $TARGETARCH and friends.
            var platforms = options.Platforms.Count > 0 ? options.Platforms.ToList() : new List<string> { daemonPlatform ?? "" };
            var perPlatform = platforms
                .Select(p => (Platform: p, Froms: DockerfileParser.ParseFromInstructions(text, options.BuildArgs, p.Length == 0 ? null : p, daemonPlatform ?? (p.Length == 0 ? null : p), file)))
                .ToList();
            if (!perPlatform.Any(x => x.Froms.Any(f => f.IsExternalImage)))
            {
                return new List<ResolvedBaseImage>();
            }

            var cache = new BaseImageDigestCache(options.IntermediateDirectory, TimeSpan.FromMinutes(options.BaseImageDigestsCacheMinutes), log);
            using var resolver = CreateResolver(options, runner, offline ? null : docker, log);
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
                log.Detail(string.Format(
                    System.Globalization.CultureInfo.InvariantCulture,
                    "Resolved {0} base image digest(s) with {1} manifest HEAD(s) and {2} GET(s) in {3:0} ms; cached in {4} for {5} min, then revalidated with one HEAD each.",
                    resolver.RegistryLookups,
                    resolver.ManifestHeads,
                    resolver.ManifestGets,
                    resolver.RequestTime.TotalMilliseconds,
                    cache.FilePath,
                    options.BaseImageDigestsCacheMinutes));
            }

            return resolved;
        }

        /// <summary>
        /// After a failed build: ECRC1113 when a registry-resolved base image has no manifest for its platform (the
        /// likely cause of the failure), else null. Costs one manifest GET per such image, so only failures pay it.
        /// </summary>
        public static async Task<EcrCacheException?> FindMissingPlatformAsync(
            CacheOptions options,
            IReadOnlyList<ResolvedBaseImage> images,
            IProcessRunner runner,
            DockerCli? docker,
            IBuildLog log,
            CancellationToken cancellationToken)
        {
            if (!images.Any(i => i.IsRegistryDigest))
            {
                return null;
            }

            using var resolver = CreateResolver(options, runner, docker, log);
            try
            {
                return await resolver.FindMissingPlatformAsync(images, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is EcrCacheException || ex is System.Net.Http.HttpRequestException || ex is IOException)
            {
                log.Detail("Could not check the base images' platforms after the failed build: " + ex.Message);
                return null;
            }
        }

        /// <summary>A resolver with the docker config's credentials, the daemon (local image ids) and the mirrors for docker.io.</summary>
        private static BaseImageResolver CreateResolver(CacheOptions options, IProcessRunner runner, DockerCli? docker, IBuildLog log)
        {
            var config = DockerConfig.Load(options.Environment, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
            var credentials = new DockerConfigCredentialProvider(config, runner, options.Environment, log);
            Func<string, CancellationToken, Task<string?>>? localId = null;
            if (docker != null)
            {
                localId = async (image, token) =>
                {
                    var result = await docker.RunAsync(new[] { "image", "inspect", "--format", "{{.Id}}", image }, token).ConfigureAwait(false);
                    return result.ExitCode == 0 ? result.StandardOutput.Trim() : null;
                };
            }

            Func<CancellationToken, Task<IReadOnlyList<RegistryEndpoint>>>? mirrors = null;
            if (options.RegistryMirrors != null)
            {
                var configured = options.RegistryMirrors;
                mirrors = _ => Task.FromResult(configured);
            }
            else if (docker != null)
            {
                mirrors = token => RegistryMirrors.FromDaemonAsync(docker, log, token);
            }

            return new BaseImageResolver(log, credentials, localId, null, mirrors);
        }

        /// <summary>True when every base image was resolved through a registry (so docker build --pull builds exactly what was keyed).</summary>
        public static bool AllFromRegistry(IReadOnlyList<ResolvedBaseImage> images) =>
            images.Count > 0 && images.All(i => i.IsRegistryDigest || i.Source == ResolvedBaseImage.Pinned);
    }
}
