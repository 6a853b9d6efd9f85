using System.Runtime.ExceptionServices;
using System.Text;
using CliWrap;

namespace EcrCache.Processes
{
    /// <summary>
    /// A child process whose standard input or output is a byte stream (for 'docker save' and 'docker load', whose
    /// data is an image tarball, not text lines), run on CliWrap. The caller's delegates get the raw pipes; standard
    /// error is collected (bounded) for messages. Cancelling the token given to the constructor, or <see cref="Kill"/>,
    /// kills the whole child tree, so nothing outlives a cancelled or failed build.
    /// </summary>
    internal sealed class StreamingProcess : IDisposable
    {
        /// <summary>
        /// The exit code <see cref="RunAsync"/> reports for a child that <see cref="Kill"/> stopped (CliWrap reports
        /// none): what .NET reads for a killed child, 128 + SIGKILL on Unix, -1 on Windows.
        /// </summary>
        public static readonly int KilledExitCode = Path.DirectorySeparatorChar == '\\' ? -1 : 128 + 9;

        private const int MaxStandardError = 16 * 1024;

        private readonly StringBuilder _stderr = new StringBuilder();
        private readonly CancellationToken _cancellationToken;
        private readonly CancellationTokenSource _kill;
        private int _disposed;

        public StreamingProcess(CancellationToken cancellationToken)
        {
            _cancellationToken = cancellationToken;
            _kill = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        }

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
        /// Runs <paramref name="fileName"/> with <paramref name="arguments"/> to its end. <paramref name="writeInput"/>
        /// gets the child's stdin, which is closed when it returns (null: closed at once); <paramref name="readOutput"/>
        /// gets its stdout (null: read and discarded, so the child never blocks on a full pipe). A delegate that throws
        /// kills the child; its exception is rethrown once the child is gone. Both delegates have returned when this does.
        /// </summary>
        /// <returns>The exit code, or <see cref="KilledExitCode"/> when <see cref="Kill"/> stopped the child.</returns>
        /// <exception cref="ProcessStartException">The executable could not be started.</exception>
        /// <exception cref="OperationCanceledException">The token was cancelled (the child tree is killed).</exception>
        public async Task<int> RunAsync(string fileName, IEnumerable<string> arguments, IDictionary<string, string?>? environment, Func<Stream, Task>? writeInput, Func<Stream, Task>? readOutput)
        {
            _cancellationToken.ThrowIfCancellationRequested();
            var input = Task.CompletedTask;
            var output = Task.CompletedTask;
            ExceptionDispatchInfo? pipeError = null;
            var command = ChildProcesses.Create(fileName, arguments, environment)
                .WithStandardErrorPipe(PipeTarget.ToDelegate(KeepStandardError, ChildProcesses.Utf8));
            if (writeInput != null)
            {
                // CliWrap stops waiting for the stdin delegate once the child exits; it is awaited below instead.
                command = command.WithStandardInputPipe(PipeSource.Create((stdin, _) => input = Guard(writeInput, stdin)));
            }

            if (readOutput != null)
            {
                command = command.WithStandardOutputPipe(PipeTarget.Create((stdout, _) => output = Guard(readOutput, stdout)));
            }

            int exitCode;
            try
            {
                exitCode = (await ChildProcesses.Execute(command, _kill.Token).ConfigureAwait(false)).ExitCode;
            }
            catch (OperationCanceledException) when (_kill.IsCancellationRequested && !_cancellationToken.IsCancellationRequested)
            {
                exitCode = KilledExitCode;
            }
            finally
            {
                await Task.WhenAll(input, output).ConfigureAwait(false);
            }

            _cancellationToken.ThrowIfCancellationRequested();
            pipeError?.Throw();
            return exitCode;

            async Task Guard(Func<Stream, Task> pipe, Stream stream)
            {
                try
                {
                    await pipe(stream).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    pipeError ??= ExceptionDispatchInfo.Capture(ex);
                    Kill();
                }
            }
        }

        /// <summary>
        /// Kills the child tree; <see cref="RunAsync"/> then returns <see cref="KilledExitCode"/>. Call it only while the
        /// child may still run: CliWrap reports no exit code once its run was cancelled, even when the child had exited.
        /// </summary>
        public void Kill()
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            try
            {
                _kill.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Disposed meanwhile: the run is over.
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _kill.Dispose();
            }
        }

        private void KeepStandardError(string line)
        {
            lock (_stderr)
            {
                if (_stderr.Length < MaxStandardError)
                {
                    _stderr.Append(line).Append('\n');
                }
            }
        }
    }
}
