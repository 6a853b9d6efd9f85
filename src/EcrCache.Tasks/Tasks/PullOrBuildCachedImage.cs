using EcrCache.Logging;
using Microsoft.Build.Framework;

namespace EcrCache.Tasks
{
    /// <summary>
    /// PullOrBuildCachedImage: a local hit, a pull on a remote hit, or a build and push on a miss (one build per key,
    /// layer cache, retries), recorded in obj/ecrcache/ensured.json.
    /// </summary>
    public sealed class PullOrBuildCachedImage : CacheStepTask
    {
        public string? Pipeline { get; set; }

        /// <summary>hit-local, hit-pulled, hit-not-pulled or built.</summary>
        [Output]
        public string? Result { get; private set; }

        /// <summary>image:tag, as the daemon has it.</summary>
        [Output]
        public string? ImageReference { get; private set; }

        /// <summary>The key of the image (the key step's, or the one computed again when the daemon changed platform).</summary>
        [Output]
        public string? Key { get; private set; }

        [Output]
        public string? Tag { get; private set; }

        private protected override void Run(IBuildLog log, CancellationToken cancellationToken)
        {
            var engine = Resume(Pipeline, "ResolveCachedImageStore", log);
            var result = engine.PullOrBuildStepAsync(cancellationToken).GetAwaiter().GetResult();
            Result = result.Result;
            ImageReference = result.Reference;
            Key = result.Key.Hash;
            Tag = result.Tag;
        }
    }
}
