using EcrCache.Core;

namespace EcrCache.Tasks
{
    /// <summary>
    /// ExplainCachedImageKey: prints the whole key manifest and what changed since the last key EnsureCachedImage ensured
    /// from this project. No docker, no registry, nothing written.
    /// </summary>
    public sealed class ExplainCachedImageKey : PipelineStepTask
    {
        private protected override string PreviousStep => "ReadCachedImageOptions";

        private protected override void Run(CacheEngine engine, IBuildLog log, CancellationToken cancellationToken)
        {
            try
            {
                engine.ExplainAsync(cancellationToken).GetAwaiter().GetResult();
            }
            finally
            {
                Finish(engine);
            }
        }
    }
}
