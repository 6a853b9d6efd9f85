using System.ComponentModel;
using System.Diagnostics;
using System.Text;

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
    /// A small process runner (CliWrap is not available). Output is streamed line by line; cancellation kills the
    /// whole child process tree before the call returns, so nothing outlives a cancelled build.
    /// </summary>
    internal sealed class ProcessRunner : IProcessRunner
    {
        public static readonly ProcessRunner Instance = new ProcessRunner();

        public async Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var psi = ChildProcesses.CreateStartInfo(spec.FileName, spec.Arguments, spec.Environment);
            psi.StandardOutputEncoding = Encoding.UTF8;
            if (spec.WorkingDirectory != null)
            {
                psi.WorkingDirectory = spec.WorkingDirectory;
            }

            var stdout = new StringBuilder();
            var stderr = new StringBuilder();
            var stdoutDone = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            var stderrDone = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

            using var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
            process.OutputDataReceived += LineReader(stdout, stdoutDone, spec.OnStandardOutput);
            process.ErrorDataReceived += LineReader(stderr, stderrDone, spec.OnStandardError);

            // One stream's lines: kept when the output is captured, passed on as they arrive; null marks the end.
            DataReceivedEventHandler LineReader(StringBuilder captured, TaskCompletionSource<bool> done, Action<string>? onLine) => (_, e) =>
            {
                if (e.Data == null)
                {
                    done.TrySetResult(true);
                    return;
                }

                if (spec.CaptureOutput)
                {
                    lock (captured)
                    {
                        captured.Append(e.Data).Append('\n');
                    }
                }

                onLine?.Invoke(e.Data);
            };

            try
            {
                process.Start();
            }
            catch (Win32Exception ex)
            {
                throw new ProcessStartException(spec.FileName, ex);
            }

            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            using (cancellationToken.Register(() => ChildProcesses.KillTree(process)))
            {
                try
                {
                    if (spec.StandardInput != null)
                    {
                        await process.StandardInput.WriteAsync(spec.StandardInput).ConfigureAwait(false);
                    }

                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // The child exited without reading its input; its exit code tells the story.
                }

                await WaitForExitAsync(process).ConfigureAwait(false);
                await Task.WhenAll(stdoutDone.Task, stderrDone.Task).ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
            return new ProcessResult(process.ExitCode, stdout.ToString(), stderr.ToString());
        }

        private static Task WaitForExitAsync(Process process)
        {
            var exited = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            process.Exited += (_, _) => exited.TrySetResult(true);
            if (process.HasExited)
            {
                exited.TrySetResult(true);
            }

            return exited.Task;
        }
    }

    /// <summary>Windows command-line quoting for .NET Framework, which has no ArgumentList.</summary>
    internal static class CommandLine
    {
        public static string Join(IEnumerable<string> arguments)
        {
            var sb = new StringBuilder();
            foreach (var argument in arguments)
            {
                if (sb.Length > 0)
                {
                    sb.Append(' ');
                }

                Quote(argument, sb);
            }

            return sb.ToString();
        }

        private static void Quote(string argument, StringBuilder sb)
        {
            if (argument.Length > 0 && argument.IndexOfAny(new[] { ' ', '\t', '\n', '\v', '"' }) < 0)
            {
                sb.Append(argument);
                return;
            }

            sb.Append('"');
            var backslashes = 0;
            foreach (var c in argument)
            {
                if (c == '\\')
                {
                    backslashes++;
                    continue;
                }

                if (c == '"')
                {
                    sb.Append('\\', (backslashes * 2) + 1);
                }
                else
                {
                    sb.Append('\\', backslashes);
                }

                backslashes = 0;
                sb.Append(c);
            }

            sb.Append('\\', backslashes * 2);
            sb.Append('"');
        }
    }
}
