using EcrCache.Core;
using EcrCache.Options;
using EcrCache.Stores;

namespace EcrCache.Docker
{
    /// <summary>
    /// EcrCachePlatform with several platforms: 'docker buildx build --platform a,b --push' straight to the store
    /// (a multi-platform image cannot be loaded into the daemon). Needs the buildx plugin and a registry provider.
    /// NOTE: the build itself is untested here (no buildx on the development machine); the checks are tested.
    /// </summary>
    internal static class MultiPlatformBuild
    {
        /// <summary>Fails early (when the store is resolved, before anything is looked up or built) when a multi-platform build cannot run: ECRC1211, ECRC1210.</summary>
        public static async Task CheckAsync(CacheOptions options, DockerCli docker, CancellationToken cancellationToken)
        {
            if (!options.IsMultiPlatform)
            {
                return;
            }

            // The tarball stores save the image from the local daemon, which holds one platform only.
            if (options.Provider == ProviderKind.Local || options.Provider == ProviderKind.S3 || options.Provider == ProviderKind.Directory)
            {
                throw new EcrCacheException(DiagnosticIds.MultiPlatformNeedsRegistry, options.Platform);
            }

            var buildx = await docker.RunAsync(new[] { "buildx", "version" }, cancellationToken).ConfigureAwait(false);
            if (buildx.ExitCode != 0)
            {
                throw new EcrCacheException(DiagnosticIds.BuildxRequired, options.Platform, docker.Executable);
            }
        }

        public static async Task BuildAndPushAsync(CacheOptions options, DockerCli docker, DockerBuildRequest request, IImageStore store, bool pushLatest, CancellationToken cancellationToken)
        {
            await store.PrepareAsync(cancellationToken).ConfigureAwait(false);
            request.UseBuildx = true;
            request.Platform = options.Platform;
            request.AdditionalArguments.Add("--push");
            if (pushLatest)
            {
                request.Tags.Add(store.Image + ":latest");
            }

            if (options.LayerCache)
            {
                request.AdditionalArguments.Add("--cache-to");
                request.AdditionalArguments.Add("type=inline");
                foreach (var entry in LayerCache.SourceEntries(options))
                {
                    var source = await LayerCache.PrepareSourceAsync(entry, store, NullBuildLog.Instance, cancellationToken).ConfigureAwait(false);
                    if (source != null)
                    {
                        request.AdditionalArguments.Add("--cache-from");
                        request.AdditionalArguments.Add("type=registry,ref=" + source);
                    }
                }
            }

            await docker.BuildAsync(request, BuilderMode.BuildKitThroughBuildx, cancellationToken).ConfigureAwait(false);
        }
    }
}
