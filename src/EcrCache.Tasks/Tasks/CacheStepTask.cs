using EcrCache.Core;
using EcrCache.Options;
using Microsoft.Build.Framework;

namespace EcrCache.Tasks
{
    /// <summary>
    /// What the pipeline's tasks share: cancellation (MSBuild's, and stop signals), the mapping of failures to coded errors, and the hand-over between
    /// steps (the engine, registered for the build under the name in the Pipeline parameter).
    /// </summary>
    public abstract class CacheStepTask : Microsoft.Build.Utilities.Task, ICancelableTask
    {
        private const string PipelineKeyPrefix = "EcrCache.Pipeline:";

        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();

        public void Cancel() => _cancel.Cancel();

        public sealed override bool Execute()
        {
            var log = new TaskBuildLog(Log, ProjectFileForDiagnostics);

            // MSBuild cancels on Ctrl+C only; SIGTERM, SIGHUP and process exit cancel the same token while the step
            // runs, and end the process once it has cleaned up (disposed).
            using var stops = Processes.StopSignals.Watch(_cancel);
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
                if (stops.Received != null)
                {
                    log.Important("EcrCache: stopped by " + stops.Received + "; the step's processes were ended and its lock and lease released.");
                }

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

        /// <summary>Hands the engine to the next steps of this build; the returned name is their Pipeline parameter.</summary>
        private protected string Register(CacheEngine engine)
        {
            var id = PipelineKeyPrefix + Guid.NewGuid().ToString("N");
            Engine4.RegisterTaskObject(id, engine, RegisteredTaskObjectLifetime.Build, allowEarlyCollection: false);
            return id;
        }

        private protected IBuildEngine4 Engine4 => BuildEngine as IBuildEngine4
            ?? throw new InvalidOperationException("EcrCache needs MSBuild 16 or later (IBuildEngine4).");
    }
}
