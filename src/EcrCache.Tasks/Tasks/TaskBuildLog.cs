using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace EcrCache.Tasks
{
    /// <summary>Adapts <see cref="IBuildLog"/> to MSBuild. Serialised: docker output arrives on background threads.</summary>
    internal sealed class TaskBuildLog : IBuildLog
    {
        private readonly TaskLoggingHelper _log;
        private readonly object _gate = new object();

        public TaskBuildLog(TaskLoggingHelper log, string? file)
        {
            _log = log;
            File = file;
        }

        /// <summary>The file errors and warnings point at unless the diagnostic names its own (a Dockerfile, a Compose file).</summary>
        public string? File { get; set; }

        public bool HasLoggedErrors
        {
            get
            {
                lock (_gate)
                {
                    return _log.HasLoggedErrors;
                }
            }
        }

        public void Info(string message) => Message(MessageImportance.Normal, message);

        public void Detail(string message) => Message(MessageImportance.Low, message);

        public void Important(string message) => Message(MessageImportance.High, message);

        public void Warning(Diagnostic diagnostic)
        {
            lock (_gate)
            {
                _log.LogWarning(null, diagnostic.Code, null, diagnostic.File ?? File, diagnostic.Line, diagnostic.Column, 0, 0, diagnostic.Message);
            }
        }

        public void Error(Diagnostic diagnostic)
        {
            lock (_gate)
            {
                _log.LogError(null, diagnostic.Code, null, diagnostic.File ?? File, diagnostic.Line, diagnostic.Column, 0, 0, diagnostic.Message);
            }
        }

        public void ToolError(string tool, string message)
        {
            lock (_gate)
            {
                _log.LogError(tool, null, null, null, 0, 0, 0, 0, message);
            }
        }

        private void Message(MessageImportance importance, string message)
        {
            lock (_gate)
            {
                // Docker output may contain braces: never treat messages as format strings.
                _log.LogMessage(importance, "{0}", message);
            }
        }
    }
}
