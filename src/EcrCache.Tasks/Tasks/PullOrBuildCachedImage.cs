using EcrCache.Core;
using Microsoft.Build.Framework;

namespace EcrCache.Tasks
{
    /// <summary>
    /// PullOrBuildCachedImage: a local hit, a pull on a remote hit, or a build and push on a miss (one build per key,
    /// layer cache, retries), recorded in obj/ecrcache/ensured.json.
    /// </summary>
    public sealed class PullOrBuildCachedImage : PipelineStepTask
    {
        private protected override string PreviousStep => "ResolveCachedImageStore";

        /// <summary>hit-local, hit-pulled, hit-not-pulled, built or built-not-pushed.</summary>
        [Output]
        public string? Result { get; private set; }

        /// <summary>image:tag, as the daemon has it.</summary>
        [Output]
        public string? ImageReference { get; private set; }

        private protected override void Run(CacheEngine engine, IBuildLog log, CancellationToken cancellationToken)
        {
            var result = engine.PullOrBuildStepAsync(cancellationToken).GetAwaiter().GetResult();
            Result = result.Result;
            ImageReference = result.Reference;
        }
    }
}
