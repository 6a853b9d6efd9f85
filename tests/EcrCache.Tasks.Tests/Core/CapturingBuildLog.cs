using System.Collections.Generic;
using System.Linq;
using EcrCache.Diagnostics;
using EcrCache.Logging;

namespace EcrCache.Tasks.Tests.Core
{
    /// <summary>An <see cref="IBuildLog"/> that records everything (thread-safe: docker output arrives on background threads).</summary>
    internal sealed class CapturingBuildLog : IBuildLog
    {
        private readonly object _gate = new object();
        private readonly List<(string Kind, string Text)> _entries = new List<(string, string)>();
        private readonly List<Diagnostic> _warnings = new List<Diagnostic>();
        private readonly List<Diagnostic> _errors = new List<Diagnostic>();

        /// <summary>Called (on the logging thread) for every Info, Detail, Important and ToolError line.</summary>
        public System.Action<string>? OnLine { get; set; }

        public IReadOnlyList<Diagnostic> Warnings
        {
            get
            {
                lock (_gate)
                {
                    return _warnings.ToList();
                }
            }
        }

        public IReadOnlyList<Diagnostic> Errors
        {
            get
            {
                lock (_gate)
                {
                    return _errors.ToList();
                }
            }
        }

        public IReadOnlyList<string> WarningCodes => Warnings.Select(w => w.Code).ToList();

        /// <summary>Every line logged, prefixed with its kind (info:, detail:, important:, warning:, error:, tool-error:).</summary>
        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_gate)
                {
                    return _entries.Select(e => e.Kind + ": " + e.Text).ToList();
                }
            }
        }

        public IReadOnlyList<string> ToolErrors
        {
            get
            {
                lock (_gate)
                {
                    return _entries.Where(e => e.Kind == "tool-error").Select(e => e.Text).ToList();
                }
            }
        }

        public string AllText => string.Join("\n", Lines);

        public void Info(string message) => Add("info", message);

        public void Detail(string message) => Add("detail", message);

        public void Important(string message) => Add("important", message);

        public void Warning(Diagnostic diagnostic)
        {
            lock (_gate)
            {
                _warnings.Add(diagnostic);
                _entries.Add(("warning", diagnostic.ToString()));
            }
        }

        public void Error(Diagnostic diagnostic)
        {
            lock (_gate)
            {
                _errors.Add(diagnostic);
                _entries.Add(("error", diagnostic.ToString()));
            }
        }

        public void ToolError(string tool, string message) => Add("tool-error", message);

        private void Add(string kind, string message)
        {
            lock (_gate)
            {
                _entries.Add((kind, message));
            }

            OnLine?.Invoke(message);
        }
    }
}
