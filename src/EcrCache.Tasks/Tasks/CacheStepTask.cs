using System.Reflection;
using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Logging;
using EcrCache.Options;
using Microsoft.Build.Framework;

namespace EcrCache.Tasks
{
    /// <summary>
    /// What the pipeline's tasks share: cancellation, the mapping of failures to coded errors, and the hand-over between
    /// steps (the engine, registered for the build under the name in the Pipeline parameter).
    /// </summary>
    public abstract class CacheStepTask : Microsoft.Build.Utilities.Task, ICancelableTask
    {
        private const string PipelineKeyPrefix = "EcrCache.Pipeline:";

        /// <summary>Not option values: the project's identity (typed in <see cref="RawOptions"/>) and the hand-over.</summary>
        private static readonly string[] NotOptions = { "ProjectDirectory", "ProjectName", "ProjectFile", "IntermediateDirectory", "Pipeline" };

        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();

        public void Cancel() => _cancel.Cancel();

        public sealed override bool Execute()
        {
            var log = new TaskBuildLog(Log, ProjectFileForDiagnostics);
            try
            {
                Run(log, _cancel.Token);
            }
            catch (EcrCacheException ex)
            {
                log.Error(ex.Diagnostic);
            }
            catch (OperationCanceledException) when (_cancel.IsCancellationRequested)
            {
                log.Error(Diagnostic.Create(DiagnosticIds.Cancelled));
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                log.Error(Diagnostic.Create(DiagnosticIds.UnexpectedError, ex.Message));
                Log.LogMessage(MessageImportance.Low, "{0}", ex.ToString());
            }

            return !log.HasLoggedErrors;
        }

        /// <summary>The file that errors and warnings point at: the project (the step tasks learn it from the pipeline).</summary>
        private protected virtual string? ProjectFileForDiagnostics => null;

        /// <summary>The step's work; failures are thrown as <see cref="EcrCacheException"/>.</summary>
        private protected abstract void Run(IBuildLog log, CancellationToken cancellationToken);

        /// <summary>
        /// This task's option values as the parsers read them: every public string parameter by its name. The project's
        /// identity and the items are copied by the task that has them (items are MSBuild types).
        /// </summary>
        private protected RawOptions ReadParameters()
        {
            var raw = new RawOptions();
            foreach (var property in StringParameters(GetType()))
            {
                raw[property.Name] = (string?)property.GetValue(this);
            }

            return raw;
        }

        /// <summary>The string parameters of a step task: its option values (outputs and the project's identity excluded).</summary>
        internal static IEnumerable<PropertyInfo> StringParameters(Type taskType) =>
            taskType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.PropertyType == typeof(string) && p.GetSetMethod() != null
                    && p.GetCustomAttribute<OutputAttribute>() == null
                    && p.DeclaringType != typeof(Microsoft.Build.Utilities.Task)
                    && Array.IndexOf(NotOptions, p.Name) < 0);

        /// <summary>Hands the engine to the next steps of this build; the returned name is their Pipeline parameter.</summary>
        private protected string Register(CacheEngine engine)
        {
            var id = PipelineKeyPrefix + Guid.NewGuid().ToString("N");
            Engine4.RegisterTaskObject(id, engine, RegisteredTaskObjectLifetime.Build, allowEarlyCollection: false);
            return id;
        }

        /// <summary>The engine an earlier step registered, now logging to this task; ECRC1903 when that step did not run.</summary>
        private protected CacheEngine Resume(string? pipeline, string previousStep, IBuildLog log)
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
        private protected void Finish(string pipeline, CacheEngine engine)
        {
            Engine4.UnregisterTaskObject(pipeline, RegisteredTaskObjectLifetime.Build);
            engine.Dispose();
        }

        private protected static void CopyItems(ITaskItem[] items, IList<RawItem> target)
        {
            foreach (var item in items)
            {
                var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (System.Collections.DictionaryEntry entry in item.CloneCustomMetadata())
                {
                    metadata[(string)entry.Key] = (string?)entry.Value ?? "";
                }

                target.Add(new RawItem(item.ItemSpec, metadata));
            }
        }

        private IBuildEngine4 Engine4 => BuildEngine as IBuildEngine4
            ?? throw new InvalidOperationException("EcrCache needs MSBuild 16 or later (IBuildEngine4).");
    }
}
