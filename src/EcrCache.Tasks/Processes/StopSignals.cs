namespace EcrCache.Processes
{
    /// <summary>
    /// MSBuild cancels a running task (ICancelableTask) on Ctrl+C only. While a step runs, this watches the other ways
    /// a build is told to stop and cancels the step's token, so its children are killed and its lock and lease
    /// released exactly as on Ctrl+C: SIGTERM and SIGHUP (net8.0, through PosixSignalRegistration; on Windows .NET maps
    /// them to the console's shutdown and close events), and the process exiting (both targets).
    /// </summary>
    /// <remarks>
    /// The stop itself is never cancelled: the handler returns once the step has cleaned up (at most
    /// <see cref="CleanupTimeout"/>), and .NET then does what the signal asks, ending the process (exit code 143 for
    /// SIGTERM, killed by SIGHUP). So a stopped build fails and never hangs or goes on to the next target. Outside a
    /// step nothing is registered, and the signals keep their default.
    /// </remarks>
    internal sealed class StopSignals : IDisposable
    {
        /// <summary>How long a stop waits for the step to kill its children and release its lease (15 s of that) before the process ends anyway.</summary>
        public static readonly TimeSpan CleanupTimeout = TimeSpan.FromSeconds(30);

        private readonly CancellationTokenSource _cancel;

        // Never disposed: a handler that races Dispose may still wait on it.
        private readonly ManualResetEventSlim _cleanedUp = new ManualResetEventSlim(false);
        private readonly List<IDisposable> _registrations = new List<IDisposable>();
        private string? _received;

        private StopSignals(CancellationTokenSource cancel)
        {
            _cancel = cancel;
        }

        /// <summary>The stop that cancelled the step ("SIGTERM", "SIGHUP", "process exit"), or null.</summary>
        public string? Received => Volatile.Read(ref _received);

        /// <summary>Cancels <paramref name="cancel"/> when the process is told to stop, until the returned watch is disposed.</summary>
        public static StopSignals Watch(CancellationTokenSource cancel)
        {
            var watch = new StopSignals(cancel);
#if NET
            watch.Register(System.Runtime.InteropServices.PosixSignal.SIGTERM, "SIGTERM");
            watch.Register(System.Runtime.InteropServices.PosixSignal.SIGHUP, "SIGHUP");
#endif
            AppDomain.CurrentDomain.ProcessExit += watch.OnProcessExit;
            return watch;
        }

        /// <summary>The step has cleaned up (its children are gone, lock and lease released): a waiting stop goes on.</summary>
        public void Dispose()
        {
            _cleanedUp.Set();
            AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
            foreach (var registration in _registrations)
            {
                registration.Dispose();
            }
        }

#if NET
        private void Register(System.Runtime.InteropServices.PosixSignal signal, string name)
        {
            try
            {
                // Context.Cancel stays false: once the handler returns, the signal's default ends the process.
                _registrations.Add(System.Runtime.InteropServices.PosixSignalRegistration.Create(signal, _ => Stop(name)));
            }
            catch (Exception ex) when (ex is PlatformNotSupportedException || ex is IOException)
            {
                // A platform without this signal (browser, some Windows hosts): Ctrl+C and process exit still work.
            }
        }
#endif

        private void OnProcessExit(object? sender, EventArgs e) => Stop("process exit");

        private void Stop(string what)
        {
            Interlocked.CompareExchange(ref _received, what, null);
            try
            {
                _cancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (AggregateException)
            {
                // A callback of the token failed; the step still sees the cancellation.
            }

            _cleanedUp.Wait(CleanupTimeout);
        }
    }
}
