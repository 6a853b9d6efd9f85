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
        private static readonly Regex LegacyStep = new Regex(@"^Step (\d+)/(\d+) : (.+)$", RegexOptions.CultureInvariant);
        private static readonly Regex LegacyExitCode = new Regex(@"returned a non-zero code: (\d+)", RegexOptions.CultureInvariant);

        private readonly IBuildLog _log;
        private readonly ProgressMode _mode;
        private readonly BuildKitProgress? _progress;
        private readonly Timer? _ticker;
        private readonly List<string> _errorLines = new List<string>();

        // The legacy builder: its current step ("Step 3/4 : RUN npm ci") and that step's last lines.
        private readonly Queue<string> _legacyLines = new Queue<string>();
        private Match? _legacyStep;
        private int? _legacyExitCode;

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

            var step = _progress == null ? LegacyStep.Match(line) : Match.Empty;
            lock (_legacyLines)
            {
                if (step.Success)
                {
                    _legacyStep = step;
                    _legacyLines.Clear();
                }
                else if (_progress == null && !line.StartsWith(" ---> ", StringComparison.Ordinal))
                {
                    // The legacy builder colours a step's stderr (ESC[91m ... ESC[0m).
                    var plain = Regex.Replace(line, "\u001b\\[[0-9;]*m", "");
                    if (plain.Trim().Length > 0)
                    {
                        if (_legacyLines.Count == BuildKitProgress.KeptLines)
                        {
                            _legacyLines.Dequeue();
                        }

                        _legacyLines.Enqueue(plain);
                    }
                }
            }

            if (_mode == ProgressMode.Full || (_mode == ProgressMode.Steps && step.Success))
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
            var exit = _progress == null ? LegacyExitCode.Match(line) : Match.Empty;
            if (exit.Success)
            {
                _legacyExitCode = int.Parse(exit.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            }

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

                return _progress == null ? LegacyFailure(request, exitCode) : new EcrCacheException(DiagnosticIds.DockerBuildFailed, "docker build", exitCode, "");
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
        /// The legacy builder numbers every instruction of the Dockerfile ("Step 3/4"), so its failing step is the
        /// instruction with that number when the Dockerfile has that many.
        /// </summary>
        private EcrCacheException LegacyFailure(DockerBuildRequest request, int exitCode)
        {
            Match? step;
            List<string> lines;
            lock (_legacyLines)
            {
                step = _legacyStep;
                lines = _legacyLines.ToList();
            }

            if (step == null || _legacyExitCode == null)
            {
                return new EcrCacheException(DiagnosticIds.DockerBuildFailed, "docker build", exitCode, "");
            }

            var instruction = Regex.Replace(step.Groups[3].Value.Trim(), @"\s+", " ");
            if (_mode != ProgressMode.Full)
            {
                _log.Important("EcrCache: the output of Step " + step.Groups[1].Value + "/" + step.Groups[2].Value + " : " + BuildKitStep.Shorten(instruction) + " (its last " + lines.Count + " lines):");
                foreach (var line in lines)
                {
                    _log.Important("  " + line);
                }
            }

            var diagnostic = Diagnostic.Create(DiagnosticIds.DockerBuildFailed, BuildKitStep.Shorten(instruction), _legacyExitCode, LastWords(lines));
            var number = int.Parse(step.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            var total = int.Parse(step.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            var text = ReadDockerfile(request);
            var instructions = text == null ? new List<DockerfileParser.LogicalLine>() : SafeLogicalLines(text, request.DockerfilePath);
            // Labels given with --label are extra steps at the end (Step 5/7 : LABEL ...): the first steps are the
            // Dockerfile's, so a step number within its instructions with the same keyword is that instruction.
            if (number >= 1 && number <= instructions.Count && number <= total
                && string.Equals(DockerfileParser.SplitKeyword(instructions[number - 1].Text).Keyword, DockerfileParser.SplitKeyword(instruction).Keyword, StringComparison.OrdinalIgnoreCase))
            {
                var at = instructions[number - 1];
                diagnostic = DockerfileParser.Locate(diagnostic, at.File, at.Line, at.Column);
            }

            return new EcrCacheException(diagnostic);
        }

        private static List<DockerfileParser.LogicalLine> SafeLogicalLines(string text, string? file)
        {
            try
            {
                return DockerfileParser.LogicalLines(text, file).ToList();
            }
            catch (EcrCacheException)
            {
                return new List<DockerfileParser.LogicalLine>();
            }
        }

        /// <summary>The Dockerfile's text, or null when it cannot be read.</summary>
        private static string? ReadDockerfile(DockerBuildRequest request)
        {
            try
            {
                return request.DockerfilePath != null ? File.ReadAllText(request.DockerfilePath) : request.DockerfileText ?? "";
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return null;
            }
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
            var text = ReadDockerfile(request);
            if (text == null)
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
