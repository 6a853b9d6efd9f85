using System.Globalization;
using System.Text.RegularExpressions;

namespace EcrCache.Docker
{
    /// <summary>EcrCacheProgress: what of docker's output reaches the default (minimal) verbosity.</summary>
    internal enum ProgressMode
    {
        /// <summary>One line when each build step starts and ends, push/pull progress every 10 s, the decision.</summary>
        Steps,

        /// <summary>Only the result line (and, on a failure, what explains it).</summary>
        Quiet,

        /// <summary>Every line docker prints.</summary>
        Full,
    }

    /// <summary>
    /// A Dockerfile step as BuildKit names its vertex: <c>[stage i/n] INSTRUCTION</c>, where the stage is the
    /// <c>AS</c> name (lower case), <c>stage-K</c> for an unnamed stage of a multi-stage build, or absent for a
    /// single stage; a multi-platform build puts the platform first.
    /// </summary>
    internal sealed record BuildKitStep(string Label, string? Stage, int Index, int Total, string Instruction)
    {
        private static readonly Regex Name = new Regex(
            @"^\[(?:(?<platform>[a-z0-9]+/[a-z0-9/]+) )?(?:(?<stage>[^\s\]]+) +)?\s*(?<index>\d+)/(?<total>\d+)\] (?<instruction>.+)$",
            RegexOptions.CultureInvariant);

        /// <summary>The instruction's keyword (RUN, COPY, ...).</summary>
        public string Keyword => Instruction.Split(' ')[0].ToUpperInvariant();

        /// <summary>The step for a vertex name, or null for BuildKit's own vertices ([internal], exporting, ...).</summary>
        public static BuildKitStep? Parse(string vertexName)
        {
            var match = Name.Match(vertexName);
            if (!match.Success)
            {
                return null;
            }

            var stage = match.Groups["stage"].Success ? match.Groups["stage"].Value : null;
            var index = int.Parse(match.Groups["index"].Value, CultureInfo.InvariantCulture);
            var total = int.Parse(match.Groups["total"].Value, CultureInfo.InvariantCulture);
            var instruction = Regex.Replace(match.Groups["instruction"].Value.Trim(), @"\s+", " ");
            var prefix = (match.Groups["platform"].Success ? match.Groups["platform"].Value + " " : "") + (stage == null ? "" : stage + " ");
            var label = "[" + prefix + index.ToString(CultureInfo.InvariantCulture) + "/" + total.ToString(CultureInfo.InvariantCulture) + "] " + Shorten(instruction);
            return new BuildKitStep(label, stage, index, total, instruction);
        }

        /// <summary>Instructions can be long (a RUN with a dozen commands): lines and messages show the start.</summary>
        internal static string Shorten(string text) => text.Length <= 100 ? text : text.Substring(0, 97) + "...";
    }

    /// <summary>The step that failed, with its output and BuildKit's error.</summary>
    internal sealed record BuildKitFailure(BuildKitStep Step, string Error, int? ExitCode, IReadOnlyList<string> Output);

    /// <summary>
    /// Reads BuildKit's plain progress (<c>--progress=plain</c>, docker's stderr) line by line: reports each Dockerfile
    /// step when it starts and when it ends (with BuildKit's duration, or cached), and keeps the last lines of each
    /// step's output so a failure can show them. A step that ends within a second of its start gets one line, not two.
    /// Thread-safe: lines and <see cref="Tick"/> come from different threads.
    /// </summary>
    internal sealed class BuildKitProgress
    {
        /// <summary>How many output lines of a step are kept for a failure.</summary>
        public const int KeptLines = 100;

        private static readonly Regex VertexLine = new Regex(@"^#(\d+) (.*)$", RegexOptions.CultureInvariant);
        private static readonly Regex Done = new Regex(@"^DONE (\d+(?:\.\d+)?)s$", RegexOptions.CultureInvariant);
        private static readonly Regex Output = new Regex(@"^\d+\.\d+ (.*)$", RegexOptions.CultureInvariant);
        private static readonly Regex ExitCodeText = new Regex(@"exit code: (\d+)", RegexOptions.CultureInvariant);
        private static readonly Regex DockerfileLineText = new Regex(@"^[^\s:]+:(\d+)$", RegexOptions.CultureInvariant);

        private readonly Dictionary<int, Vertex> _vertices = new Dictionary<int, Vertex>();
        private readonly Action<string> _report;
        private readonly Func<TimeSpan> _clock;
        private readonly object _gate = new object();
        private bool _stopped;

        /// <param name="report">Gets each step line (null: steps are tracked for a failure, not reported).</param>
        /// <param name="clock">Time since some fixed start (tests pass their own).</param>
        public BuildKitProgress(Action<string>? report, Func<TimeSpan>? clock = null)
        {
            _report = report ?? (_ => { });
            if (clock == null)
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                clock = () => watch.Elapsed;
            }

            _clock = clock;
        }

        /// <summary>The first step that failed, or null.</summary>
        public BuildKitFailure? Failure { get; private set; }

        /// <summary>The Dockerfile line newer BuildKit names in its error summary (<c>Dockerfile:5</c>), or 0.</summary>
        public int ReportedLine { get; private set; }

        public void OnLine(string line)
        {
            lock (_gate)
            {
                var match = VertexLine.Match(line);
                if (!match.Success)
                {
                    OnSummaryLine(line);
                    return;
                }

                var id = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
                var rest = match.Groups[2].Value;
                if (!_vertices.TryGetValue(id, out var vertex))
                {
                    // The first line of a vertex is its name.
                    _vertices[id] = new Vertex(rest, BuildKitStep.Parse(rest), _clock());
                    FlushOthers(id);
                    return;
                }

                if (vertex.Step == null || rest.StartsWith("sha256:", StringComparison.Ordinal) || rest == vertex.Name)
                {
                    return;
                }

                var done = Done.Match(rest);
                if (done.Success)
                {
                    End(vertex, "done in " + double.Parse(done.Groups[1].Value, CultureInfo.InvariantCulture).ToString("0.0", CultureInfo.InvariantCulture) + " s");
                }
                else if (rest == "CACHED")
                {
                    End(vertex, "cached");
                }
                else if (rest == "CANCELED")
                {
                    End(vertex, "canceled");
                }
                else if (rest.StartsWith("ERROR", StringComparison.Ordinal))
                {
                    var error = rest.TrimStart('E', 'R', 'O', ':', ' ');
                    End(vertex, "failed");
                    if (Failure == null)
                    {
                        var exit = ExitCodeText.Match(error);
                        Failure = new BuildKitFailure(vertex.Step, error, exit.Success ? int.Parse(exit.Groups[1].Value, CultureInfo.InvariantCulture) : null, vertex.Lines.ToList());
                    }
                }
                else
                {
                    // A step's own output ("#5 0.240 text") means it runs; status lines ("resolve ... done") do not.
                    var output = Output.Match(rest);
                    vertex.Keep(output.Success ? output.Groups[1].Value : rest);
                    if (output.Success)
                    {
                        Start(vertex);
                    }
                }
            }
        }

        /// <summary>Reports the start of steps that have run for a second without ending (call it about every second).</summary>
        public void Tick()
        {
            lock (_gate)
            {
                var now = _clock();
                if (_stopped)
                {
                    return;
                }

                foreach (var vertex in _vertices.Values)
                {
                    if (now - vertex.SeenAt >= TimeSpan.FromSeconds(1))
                    {
                        Start(vertex);
                    }
                }
            }
        }

        /// <summary>The build has ended: no more start lines from <see cref="Tick"/>.</summary>
        public void Stop()
        {
            lock (_gate)
            {
                _stopped = true;
            }
        }

        private void OnSummaryLine(string line)
        {
            // Newer BuildKit follows a failure with the Dockerfile excerpt: "Dockerfile:5", then the numbered lines.
            var located = DockerfileLineText.Match(line.Trim());
            if (Failure != null && ReportedLine == 0 && located.Success)
            {
                ReportedLine = int.Parse(located.Groups[1].Value, CultureInfo.InvariantCulture);
            }
        }

        /// <summary>Another vertex has started: the ones still pending are running, so say so (in order).</summary>
        private void FlushOthers(int except)
        {
            foreach (var pair in _vertices)
            {
                if (pair.Key != except)
                {
                    Start(pair.Value);
                }
            }
        }

        private void Start(Vertex vertex)
        {
            if (vertex.Step != null && !vertex.Started && !vertex.Ended)
            {
                vertex.Started = true;
                _report(vertex.Step.Label);
            }
        }

        private void End(Vertex vertex, string how)
        {
            if (vertex.Ended)
            {
                return;
            }

            vertex.Ended = true;
            _report(vertex.Step!.Label + ": " + how);
        }

        private sealed class Vertex
        {
            private readonly Queue<string> _lines = new Queue<string>();

            public Vertex(string name, BuildKitStep? step, TimeSpan seenAt)
            {
                Name = name;
                Step = step;
                SeenAt = seenAt;
            }

            public BuildKitStep? Step { get; }

            /// <summary>The vertex's name as BuildKit prints it (again, when another vertex's lines came between).</summary>
            public string Name { get; }

            public TimeSpan SeenAt { get; }

            public bool Started { get; set; }

            public bool Ended { get; set; }

            public IEnumerable<string> Lines => _lines;

            public void Keep(string line)
            {
                if (_lines.Count == KeptLines)
                {
                    _lines.Dequeue();
                }

                _lines.Enqueue(line);
            }
        }
    }
}
