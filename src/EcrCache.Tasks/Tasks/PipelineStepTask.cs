using EcrCache.Core;
using Microsoft.Build.Framework;

namespace EcrCache.Tasks
{
    /// <summary>
    /// A step of the pipeline that ReadCachedImageOptions started: it continues the engine named by
    /// <see cref="Pipeline"/>, and reports the key and tag as they are after it (a step may compute the key again, when
    /// the daemon changed platform).
    /// </summary>
    public abstract class PipelineStepTask : CacheStepTask
    {
        /// <summary>$(_EcrCachePipeline): the engine of this build of the project.</summary>
        public string? Pipeline { get; set; }

        [Output]
        public string? Key { get; private set; }

        [Output]
        public string? Tag { get; private set; }

        /// <summary>The step that must have run before this one (named in ECRC1903).</summary>
        private protected abstract string PreviousStep { get; }

        private protected sealed override void Run(IBuildLog log, CancellationToken cancellationToken)
        {
            var engine = Resume(Pipeline, PreviousStep, log);
            Run(engine, log, cancellationToken);
            Key = engine.Key?.Hash;
            Tag = engine.Key?.Tag;
        }

        private protected abstract void Run(CacheEngine engine, IBuildLog log, CancellationToken cancellationToken);

        /// <summary>The engine an earlier step registered, now logging to this task; ECRC1903 when that step did not run.</summary>
        private CacheEngine Resume(string? pipeline, string previousStep, IBuildLog log)
        {
            var engine = string.IsNullOrEmpty(pipeline) ? null : Engine4.GetRegisteredTaskObject(pipeline, RegisteredTaskObjectLifetime.Build) as CacheEngine;
            if (engine == null)
            {
                throw new EcrCacheException(DiagnosticIds.PipelineStepMissing, GetType().Name, previousStep);
            }

            if (log is TaskBuildLog taskLog)
            {
                taskLog.File = engine.Options.ProjectFile;
            }

            engine.Log = log;
            return engine;
        }

        /// <summary>Ends the pipeline: the engine leaves the registry and lets go of what it holds.</summary>
        private void Finish(string pipeline, CacheEngine engine)
        {
            Engine4.UnregisterTaskObject(pipeline, RegisteredTaskObjectLifetime.Build);
            engine.Dispose();
        }

        /// <summary>Ends the pipeline: the engine leaves the registry and lets go of what it holds.</summary>
        private protected void Finish(CacheEngine engine) => Finish(Pipeline!, engine);
    }
}
