namespace EcrCache.Processes
{
    /// <summary>
    /// MSBuild cancels a running task (ICancelableTask) on Ctrl+C only. While a step runs, this watches the other ways
    /// a build is told to stop and cancels the step's token, so its children are killed and its lock and lease
    /// released exactly as on Ctrl+C: SIGTERM and SIGHUP (net8.0, through PosixSignalRegistration; on Windows .NET maps
    /// them to the console's shutdown and close events), and the process exiting (both targets).
    /// </summary>
    /// <remarks>
    /// The stop itself is not undone: the process ends with 128 + the signal's number (143 for SIGTERM, 129 for SIGHUP),
    /// as a shell reports a process the signal killed. It must: left to its default, `dotnet build` answers SIGTERM by
    /// exiting with 0 (a stopped build would look successful) and leaves its children running. The step cleans up (at
    /// most <see cref="CleanupTimeout"/>) and fails, which fails its target, so MSBuild itself ends the build and drains
    /// its loggers (the step's last lines reach the log) and only the exit code is replaced; a build still busy
    /// elsewhere (other projects) is ended <see cref="BuildEndTimeout"/> later. So a stopped build fails, and never
    /// hangs or goes on to the next target. Outside a step nothing is registered, and the signals keep their default.
    /// </remarks>
    internal sealed class StopSignals : IDisposable
    {
        /// <summary>How long a stop waits for the step to kill its children and release its lease (15 s of that) before the process ends anyway.</summary>
        public static readonly TimeSpan CleanupTimeout = TimeSpan.FromSeconds(30);

        /// <summary>How long MSBuild has, after a signal and the step's clean-up, to end the build itself before the process is ended.</summary>
        public static readonly TimeSpan BuildEndTimeout = TimeSpan.FromSeconds(10);

        /// <summary>
        /// How long a process that is exiting already lives on after the step's clean-up. MSBuild's loggers run on their
        /// own thread behind a queue that exiting does not drain: without this pause the step's last lines ("stopped
        /// by ...", the ECRC1901 error) could be lost, and the log would say nothing of why the build ended.
        /// </summary>
        public static readonly TimeSpan LogDrainDelay = TimeSpan.FromSeconds(1);

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
            watch.Register(System.Runtime.InteropServices.PosixSignal.SIGTERM, "SIGTERM", 128 + 15);
            watch.Register(System.Runtime.InteropServices.PosixSignal.SIGHUP, "SIGHUP", 128 + 1);
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
        private void Register(System.Runtime.InteropServices.PosixSignal signal, string name, int exitCode)
        {
            try
            {
                _registrations.Add(System.Runtime.InteropServices.PosixSignalRegistration.Create(signal, context =>
                {
                    // Before the step learns of the stop: MSBuild may end the build the moment the step has failed.
                    AppDomain.CurrentDomain.ProcessExit += (_, _) => Environment.ExitCode = exitCode;
                    context.Cancel = true;
                    Stop(name);
                    var end = new Thread(() =>
                    {
                        Thread.Sleep(BuildEndTimeout);
                        Environment.Exit(exitCode);
                    })
                    {
                        IsBackground = true,
                        Name = "EcrCache stop: " + name,
                    };
                    end.Start();
                }));
            }
            catch (Exception ex) when (ex is PlatformNotSupportedException || ex is IOException)
            {
                // A platform without this signal (browser, some Windows hosts): Ctrl+C and process exit still work.
            }
        }
#endif

        // The process is ending already: only clean up first, and let the loggers print the step's last lines.
        private void OnProcessExit(object? sender, EventArgs e)
        {
            if (Stop("process exit"))
            {
                Thread.Sleep(LogDrainDelay);
            }
        }

        /// <summary>Cancels the step and waits for its clean-up; false when the step had ended already.</summary>
        private bool Stop(string what)
        {
            Interlocked.CompareExchange(ref _received, what, null);
            try
            {
                _cancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
            catch (AggregateException)
            {
                // A callback of the token failed; the step still sees the cancellation.
            }

            _cleanedUp.Wait(CleanupTimeout);
            return true;
        }
    }
}
