using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace EcrCache.Processes
{
    /// <summary>
    /// A child process whose standard input or output is a byte stream (for 'docker save' and 'docker load', whose
    /// data is an image tarball, not text lines). Standard error is collected (bounded) for messages. Cancelling the
    /// token passed to <see cref="Start"/> or disposing the object kills the whole child tree, so nothing outlives a
    /// cancelled or failed build.
    /// </summary>
    internal sealed class StreamingProcess : IDisposable
    {
        private const int MaxStandardError = 16 * 1024;

        private readonly Process _process;
        private readonly StringBuilder _stderr = new StringBuilder();
        private readonly TaskCompletionSource<bool> _stderrDone = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<bool> _exited = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenRegistration _registration;
        private int _disposed;

        private StreamingProcess(Process process, CancellationToken cancellationToken)
        {
            _process = process;
            _process.Exited += (_, _) => _exited.TrySetResult(true);
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data == null)
                {
                    _stderrDone.TrySetResult(true);
                    return;
                }

                lock (_stderr)
                {
                    if (_stderr.Length < MaxStandardError)
                    {
                        _stderr.Append(e.Data).Append('\n');
                    }
                }
            };
            _registration = cancellationToken.Register(Kill);
        }

        /// <summary>The child's standard input (write the data, then <see cref="CloseInput"/>). Null unless redirected.</summary>
        public Stream? Input { get; private set; }

        /// <summary>The child's standard output as raw bytes. Null unless redirected.</summary>
        public Stream? Output { get; private set; }

        public string StandardError
        {
            get
            {
                lock (_stderr)
                {
                    return _stderr.ToString();
                }
            }
        }

        /// <summary>
        /// Starts <paramref name="fileName"/> with <paramref name="arguments"/>. <paramref name="redirectInput"/> and
        /// <paramref name="redirectOutput"/> choose which of stdin/stdout become streams; the other is closed/discarded.
        /// </summary>
        /// <exception cref="ProcessStartException">The executable could not be started.</exception>
        public static StreamingProcess Start(string fileName, IEnumerable<string> arguments, IDictionary<string, string?>? environment, bool redirectInput, bool redirectOutput, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var psi = ChildProcesses.CreateStartInfo(fileName, arguments, environment);
            var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
            var child = new StreamingProcess(process, cancellationToken);
            try
            {
                process.Start();
            }
            catch (Win32Exception ex)
            {
                child._registration.Dispose();
                process.Dispose();
                throw new ProcessStartException(fileName, ex);
            }

            if (process.HasExited)
            {
                child._exited.TrySetResult(true);
            }

            process.BeginErrorReadLine();
            if (redirectInput)
            {
                child.Input = process.StandardInput.BaseStream;
            }
            else
            {
                process.StandardInput.Close();
            }

            if (redirectOutput)
            {
                child.Output = process.StandardOutput.BaseStream;
            }
            else
            {
                // Drain and discard, so the child never blocks on a full pipe.
                _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                child.Kill();
            }

            return child;
        }

        /// <summary>Closes standard input (end of data). A child that already exited is not an error.</summary>
        public void CloseInput()
        {
            try
            {
                Input?.Dispose();
            }
            catch (IOException)
            {
                // The child exited without reading everything; its exit code tells the story.
            }
        }

        /// <summary>Waits for the child to exit and for its stderr to be read; returns the exit code.</summary>
        public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
        {
            var cancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            using (cancellationToken.Register(() => cancelled.TrySetResult(true)))
            {
                await Task.WhenAny(_exited.Task, cancelled.Task).ConfigureAwait(false);
            }

            if (!_exited.Task.IsCompleted)
            {
                Kill();
                cancellationToken.ThrowIfCancellationRequested();
            }

            await Task.WhenAny(_stderrDone.Task, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
            _process.WaitForExit();
            cancellationToken.ThrowIfCancellationRequested();
            return _process.ExitCode;
        }

        /// <summary>Kills the child tree (no-op when it has exited).</summary>
        public void Kill() => ChildProcesses.KillTree(_process);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            _registration.Dispose();
            Kill();
            try
            {
                Input?.Dispose();
            }
            catch (IOException)
            {
            }

            try
            {
                Output?.Dispose();
            }
            catch (IOException)
            {
            }

            _process.Dispose();
        }
    }
}
