using System.Text;
using CliWrap;

namespace EcrCache.Processes
{
    /// <summary>What to run. Arguments are passed as a list; never put a secret in them (they are visible in /proc).</summary>
    internal sealed class ProcessSpec
    {
        public ProcessSpec(string fileName, IEnumerable<string> arguments)
        {
            FileName = fileName;
            Arguments = new List<string>(arguments);
        }

        public string FileName { get; }

        public IReadOnlyList<string> Arguments { get; }

        public string? WorkingDirectory { get; set; }

        /// <summary>Variables to set (value) or remove (null) in the child's environment, on top of ours.</summary>
        public IDictionary<string, string?> Environment { get; } = new Dictionary<string, string?>(StringComparer.Ordinal);

        /// <summary>Text written to the child's standard input, then closed. Use it for secrets.</summary>
        public string? StandardInput { get; set; }

        /// <summary>Called for each stdout line as it arrives (background thread).</summary>
        public Action<string>? OnStandardOutput { get; set; }

        /// <summary>Called for each stderr line as it arrives (background thread).</summary>
        public Action<string>? OnStandardError { get; set; }

        /// <summary>Keep the whole output in the result (for small outputs such as 'docker version').</summary>
        public bool CaptureOutput { get; set; } = true;

        /// <summary>How the command is shown in logs: file name and arguments, never stdin or environment.</summary>
        public string DisplayText => FileName + " " + string.Join(" ", Arguments);
    }

    internal sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError);

    /// <summary>Thrown when the executable itself cannot be started (not found, not executable).</summary>
    internal sealed class ProcessStartException : Exception
    {
        public ProcessStartException(string fileName, Exception inner)
            : base("Could not start '" + fileName + "': " + inner.Message, inner)
        {
            FileName = fileName;
        }

        public string FileName { get; }
    }

    internal interface IProcessRunner
    {
        Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken);
    }

    /// <summary>
    /// Runs a child to its end on CliWrap. Output is streamed line by line; cancellation kills the whole child process
    /// tree before the call returns, so nothing outlives a cancelled build.
    /// </summary>
    internal sealed class ProcessRunner : IProcessRunner
    {
        public static readonly ProcessRunner Instance = new ProcessRunner();

        public async Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken)
        {
            // CliWrap would start the child and kill it at once; a cancelled build starts nothing.
            cancellationToken.ThrowIfCancellationRequested();
            var stdout = new Lines(spec.CaptureOutput, spec.OnStandardOutput);
            var stderr = new Lines(spec.CaptureOutput, spec.OnStandardError);
            var command = ChildProcesses.Create(spec.FileName, spec.Arguments, spec.Environment)
                .WithStandardInputPipe(spec.StandardInput == null ? PipeSource.Null : PipeSource.FromString(spec.StandardInput, ChildProcesses.Utf8))
                .WithStandardOutputPipe(PipeTarget.ToDelegate(stdout.Add, ChildProcesses.Utf8))
                .WithStandardErrorPipe(PipeTarget.ToDelegate(stderr.Add, ChildProcesses.Utf8));
            if (spec.WorkingDirectory != null)
            {
                command = command.WithWorkingDirectory(spec.WorkingDirectory);
            }

            var result = await ChildProcesses.Execute(command, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return new ProcessResult(result.ExitCode, stdout.Text, stderr.Text);
        }

        /// <summary>One stream's lines: kept when the output is captured, passed on as they arrive (CliWrap reads each stream on one task).</summary>
        private sealed class Lines
        {
            private readonly StringBuilder? _captured;
            private readonly Action<string>? _onLine;

            public Lines(bool capture, Action<string>? onLine)
            {
                _captured = capture ? new StringBuilder() : null;
                _onLine = onLine;
            }

            public string Text => _captured?.ToString() ?? string.Empty;

            public void Add(string line)
            {
                _captured?.Append(line).Append('\n');
                _onLine?.Invoke(line);
            }
        }
    }
}
