using System.Text.RegularExpressions;
using EcrCache.Keys.Dockerfiles;

namespace EcrCache.Docker
{
    /// <summary>
    /// Where one docker build's output goes. At the default verbosity (minimal) only high-importance lines show, so
    /// with EcrCacheProgress=steps each BuildKit step gets a line as it starts and ends, and docker's own lines stay at
    /// normal importance (-v:n shows them, as before); full raises every line. A failed step ends the build with its
    /// last output lines and one ECRC1204 at the Dockerfile line of its instruction.
    /// </summary>
    internal sealed class BuildOutput : IDisposable
    {
        private static readonly Regex LegacyStep = new Regex(@"^Step \d+/\d+ : ", RegexOptions.CultureInvariant);

        private readonly IBuildLog _log;
        private readonly ProgressMode _mode;
        private readonly BuildKitProgress? _progress;
        private readonly Timer? _ticker;
        private readonly List<string> _errorLines = new List<string>();

        public BuildOutput(IBuildLog log, ProgressMode mode, bool buildKit)
        {
            _log = log;
            _mode = mode;
            if (buildKit)
            {
                _progress = new BuildKitProgress(mode == ProgressMode.Steps ? line => log.Important("EcrCache: " + line) : null);
                // A step's start is reported once it has run for a second, so a cached or quick step gets one line.
                _ticker = mode == ProgressMode.Steps ? new Timer(_ => _progress.Tick(), null, 1000, 1000) : null;
            }
        }

        /// <summary>The legacy builder writes its steps to stdout; BuildKit writes nothing there.</summary>
        public void OnStandardOutput(string line)
        {
            if (line.Length == 0)
            {
                return;
            }

            if (_mode == ProgressMode.Full || (_mode == ProgressMode.Steps && LegacyStep.IsMatch(line)))
            {
                _log.Important(_mode == ProgressMode.Full ? line : "EcrCache: " + line);
            }
            else
            {
                _log.Info(line);
            }
        }

        /// <summary>BuildKit's plain progress, and the CLI's own errors.</summary>
        public void OnStandardError(string line)
        {
            if (line.Length == 0)
            {
                return;
            }

            _progress?.OnLine(line);
            if (DockerCli.IsErrorLine(line))
            {
                if (_progress == null)
                {
                    _log.ToolError("docker", line);
                    return;
                }

                // Reported when the build has ended: as the explanation of a located failure, else as errors.
                lock (_errorLines)
                {
                    _errorLines.Add(line);
                }
            }

            if (_mode == ProgressMode.Full)
            {
                _log.Important(line);
            }
            else
            {
                _log.Info(line);
            }
        }

        /// <summary>The error for a build that exited with <paramref name="exitCode"/>, after what explains it.</summary>
        public EcrCacheException Fail(DockerBuildRequest request, int exitCode)
        {
            Dispose();
            var failure = _progress?.Failure;
            List<string> errorLines;
            lock (_errorLines)
            {
                errorLines = _errorLines.ToList();
            }

            if (failure == null)
            {
                foreach (var line in errorLines)
                {
                    _log.ToolError("docker", line);
                }

                return new EcrCacheException(DiagnosticIds.DockerBuildFailed, "docker build", exitCode, "");
            }

            if (_mode != ProgressMode.Full)
            {
                _log.Important("EcrCache: the output of " + failure.Step.Label + " (its last " + failure.Output.Count + " lines):");
                foreach (var line in failure.Output)
                {
                    _log.Important("  " + line);
                }

                foreach (var line in errorLines)
                {
                    _log.Important(line);
                }
            }

            var what = BuildKitStep.Shorten(failure.Step.Instruction) + (failure.ExitCode == null ? " (" + failure.Error + ")" : "");
            var diagnostic = Diagnostic.Create(DiagnosticIds.DockerBuildFailed, what, failure.ExitCode ?? exitCode, LastWords(failure.Output));
            return new EcrCacheException(Locate(diagnostic, request, failure.Step, _progress!.ReportedLine));
        }

        /// <summary>
        /// The step's last lines for the error itself: the terminal logger and IDE error lists show errors but not the
        /// messages before them.
        /// </summary>
        private static string LastWords(IReadOnlyList<string> output)
        {
            var last = output.Select(l => l.Trim()).Where(l => l.Length > 0).Reverse().Take(3).Reverse().Select(BuildKitStep.Shorten).ToList();
            return last.Count == 0 ? "" : " (last output: " + string.Join(" / ", last) + ")";
        }

        public void Dispose()
        {
            _progress?.Stop();
            _ticker?.Dispose();
        }

        /// <summary>The diagnostic at the failing instruction; at the project file when the Dockerfile is inline or unreadable.</summary>
        private static Diagnostic Locate(Diagnostic diagnostic, DockerBuildRequest request, BuildKitStep step, int reportedLine)
        {
            string text;
            try
            {
                text = request.DockerfilePath != null ? File.ReadAllText(request.DockerfilePath) : request.DockerfileText ?? "";
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return diagnostic;
            }

            var instruction = DockerfileSteps.Find(text, request.DockerfilePath, step);
            if (instruction != null)
            {
                return DockerfileParser.Locate(diagnostic, instruction.File, instruction.Line, instruction.Column);
            }

            return reportedLine > 0 ? DockerfileParser.Locate(diagnostic, request.DockerfilePath, reportedLine, 1) : diagnostic;
        }
    }
}
