namespace EcrCache.Logging
{
    /// <summary>
    /// How the library reports progress. The MSBuild tasks adapt it to TaskLoggingHelper; tests capture it.
    /// Implementations must be thread-safe: docker output arrives on background threads.
    /// </summary>
    internal interface IBuildLog
    {
        /// <summary>Progress a user wants to see at normal verbosity (docker build/push output, decisions).</summary>
        void Info(string message);

        /// <summary>Detail for -v:detailed and above.</summary>
        void Detail(string message);

        /// <summary>Headline results shown at minimal verbosity.</summary>
        void Important(string message);

        void Warning(Diagnostic diagnostic);

        void Error(Diagnostic diagnostic);

        /// <summary>An error line from a child process (not a coded diagnostic of ours).</summary>
        void ToolError(string tool, string message);
    }

    internal sealed class NullBuildLog : IBuildLog
    {
        public static readonly NullBuildLog Instance = new NullBuildLog();
        public void Info(string message) { }
        public void Detail(string message) { }
        public void Important(string message) { }
        public void Warning(Diagnostic diagnostic) { }
        public void Error(Diagnostic diagnostic) { }
        public void ToolError(string tool, string message) { }
    }

    /// <summary>
    /// Forwards to the log of the step that is running: the pipeline's steps are separate MSBuild tasks, and a task may
    /// only log while it runs, but the objects one step creates (docker client, store) log during the next.
    /// </summary>
    internal sealed class RelayBuildLog : IBuildLog
    {
        public RelayBuildLog(IBuildLog target) => Target = target;

        public IBuildLog Target { get; set; }

        public void Info(string message) => Target.Info(message);

        public void Detail(string message) => Target.Detail(message);

        public void Important(string message) => Target.Important(message);

        public void Warning(Diagnostic diagnostic) => Target.Warning(diagnostic);

        public void Error(Diagnostic diagnostic) => Target.Error(diagnostic);

        public void ToolError(string tool, string message) => Target.ToolError(tool, message);
    }
}
