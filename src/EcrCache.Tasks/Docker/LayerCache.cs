using EcrCache.Core;
using EcrCache.Options;
using EcrCache.Stores;

namespace EcrCache.Docker
{
    /// <summary>
    /// Layer cache on a miss (EcrCacheLayerCache, default on): with BuildKit the image is built with
    /// BUILDKIT_INLINE_CACHE=1 so the pushed image carries its cache metadata, and with --cache-from the store's
    /// latest (or each EcrCacheCacheFrom entry that exists) so unchanged layers are reused even on a fresh agent. The
    /// legacy builder can only use a local image as cache source, so the source is pulled first. Neither enters the
    /// cache key. A source that cannot be prepared is a warning (ECRC1212), never a failed build.
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

            // Every source that exists is passed, in order: BuildKit takes each layer from the first that has it.
            foreach (var entry in SourceEntries(options))
            {
                var source = await PrepareSourceAsync(entry, store, log, cancellationToken).ConfigureAwait(false);
                if (source == null || request.AdditionalArguments.Contains(source))
                {
                    continue;
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
                        continue;
                    }
                }

                request.AdditionalArguments.Add("--cache-from");
                request.AdditionalArguments.Add(source);
                log.Info("EcrCache: reusing unchanged layers from " + source + " (--cache-from).");
            }
        }

        /// <summary>The EcrCacheCacheFrom entries to try, in order; without any, the store's latest (null).</summary>
        public static IReadOnlyList<string?> SourceEntries(CacheOptions options) =>
            options.CacheFromSources.Count > 0 ? (IReadOnlyList<string?>)options.CacheFromSources : new string?[] { null };

        /// <summary>One EcrCacheCacheFrom entry (null: latest) as a cache source, or null: absent (a line at normal importance) or failed (a warning).</summary>
        public static async Task<string?> PrepareSourceAsync(string? entry, IImageStore store, IBuildLog log, CancellationToken cancellationToken)
        {
            var name = entry ?? "latest";
            try
            {
                var source = await store.PrepareCacheFromAsync(entry, cancellationToken).ConfigureAwait(false);
                if (source == null)
                {
                    log.Info("EcrCache: no layer cache source " + name + " in " + store.Description + "; skipped.");
                }

                return source;
            }
            catch (EcrCacheException ex)
            {
                log.Warning(Diagnostic.Create(DiagnosticIds.CacheFromUnavailable, Options.BuildOptions.IsFullReference(name) ? name : store.Image + ":" + name, ex.Diagnostic.Code + ": " + ex.Diagnostic.Message));
                return null;
            }
        }
    }
}
