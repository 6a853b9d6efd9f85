using EcrCache.Logging;
using Microsoft.Build.Framework;

namespace EcrCache.Tasks
{
    /// <summary>
    /// ExplainCachedImageKey: prints the whole key manifest and what changed since the last key EnsureCachedImage ensured
    /// from this project. No docker, no registry, nothing written.
    /// </summary>
    public sealed class ExplainCachedImageKey : CacheStepTask
    {
        public string? Pipeline { get; set; }

        [Output]
        public string? Key { get; private set; }

        [Output]
        public string? Tag { get; private set; }

        private protected override void Run(IBuildLog log, CancellationToken cancellationToken)
        {
            var engine = Resume(Pipeline, "ReadCachedImageOptions", log);
            try
            {
                var key = engine.ExplainAsync(cancellationToken).GetAwaiter().GetResult();
                Key = key.Hash;
                Tag = key.Tag;
            }
            finally
            {
                Finish(Pipeline!, engine);
            }
        }
    }
}
