using EcrCache.Core;
using EcrCache.Options;
using EcrCache.Stores;

namespace EcrCache.Docker
{
    /// <summary>
    /// Layer cache on a miss (EcrCacheLayerCache, default on): with BuildKit the image is built with
    /// BUILDKIT_INLINE_CACHE=1 so the pushed image carries its cache metadata, and with --cache-from the store's
    /// latest (or EcrCacheCacheFrom) so unchanged layers are reused even on a fresh agent. The legacy builder can only
    /// use a local image as cache source, so the source is pulled first. Neither enters the cache key. A source that
    /// cannot be prepared is a warning (ECRC1212), never a failed build.
    /// </summary>
    internal static class LayerCache
    {
        public const string InlineCacheArg = "BUILDKIT_INLINE_CACHE";

        public static async Task AddAsync(CacheOptions options, DockerCli docker, IImageStore store, BuilderMode mode, DockerBuildRequest request, IBuildLog log, CancellationToken cancellationToken)
        {
            if (!options.LayerCache)
            {
                return;
            }

            if (mode.UsesBuildKit && !request.BuildArgs.Any(a => a.Key == InlineCacheArg))
            {
                request.BuildArgs.Add(new KeyValuePair<string, string?>(InlineCacheArg, "1"));
            }

            var source = await PrepareSourceAsync(options, store, log, cancellationToken).ConfigureAwait(false);
            if (source == null)
            {
                return;
            }

            if (!mode.UsesBuildKit && !await docker.ImageExistsAsync(source, cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await docker.PullAsync(source, cancellationToken).ConfigureAwait(false);
                }
                catch (EcrCacheException ex)
                {
                    log.Warning(Diagnostic.Create(DiagnosticIds.CacheFromUnavailable, source, ex.Diagnostic.Code + ": " + ex.Diagnostic.Message));
                    return;
                }
            }

            request.AdditionalArguments.Add("--cache-from");
            request.AdditionalArguments.Add(source);
            log.Info("EcrCache: reusing unchanged layers from " + source + " (--cache-from).");
        }

        /// <summary>The store's cache source, or null (also when preparing it failed: a warning).</summary>
        public static async Task<string?> PrepareSourceAsync(CacheOptions options, IImageStore store, IBuildLog log, CancellationToken cancellationToken)
        {
            try
            {
                var source = await store.PrepareCacheFromAsync(options.CacheFrom, cancellationToken).ConfigureAwait(false);
                if (source == null)
                {
                    log.Detail("No layer cache source in " + store.Description + " (" + (options.CacheFrom ?? "latest") + ").");
                }

                return source;
            }
            catch (EcrCacheException ex)
            {
                log.Warning(Diagnostic.Create(DiagnosticIds.CacheFromUnavailable, store.Image + ":" + (options.CacheFrom ?? "latest"), ex.Diagnostic.Code + ": " + ex.Diagnostic.Message));
                return null;
            }
        }
    }
}
