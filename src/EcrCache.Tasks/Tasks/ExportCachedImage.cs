using EcrCache.Core;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace EcrCache.Tasks
{
    /// <summary>
    /// ExportCachedImage: the image as an MSBuild item, the env files (rewritten only when their content changes), the
    /// Buildkite Job API and meta-data (on every run: each job needs them, even when obj/ survived from the last one).
    /// Ends the pipeline.
    /// </summary>
    public sealed class ExportCachedImage : PipelineStepTask
    {
        private protected override string PreviousStep => "PullOrBuildCachedImage";

        /// <summary>
        /// The repository reference without tag, with metadata Tag, Reference, Key, Result and Registry (empty for the
        /// local daemon and the tarball stores).
        /// </summary>
        [Output]
        public ITaskItem? Image { get; private set; }

        private protected override void Run(CacheEngine engine, IBuildLog log, CancellationToken cancellationToken)
        {
            try
            {
                engine.ExportStepAsync(cancellationToken).GetAwaiter().GetResult();
                var result = engine.Result!;
                var item = new TaskItem(result.Image);
                item.SetMetadata("Tag", result.Tag);
                item.SetMetadata("Reference", result.Reference);
                item.SetMetadata("Key", result.Key.Hash);
                item.SetMetadata("Result", result.Result);
                item.SetMetadata("Registry", engine.RegistryHost ?? "");
                Image = item;
            }
            finally
            {
                Finish(engine);
            }
        }
    }
}
