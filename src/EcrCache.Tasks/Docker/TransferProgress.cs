using System.Globalization;
using System.Text.RegularExpressions;

namespace EcrCache.Docker
{
    /// <summary>
    /// Progress of a docker push or pull for the default verbosity: at most one line every 10 s with the layers done.
    /// Not on a terminal docker prints one line per layer state (Preparing, Pushed, Already exists, Pull complete, ...)
    /// and no byte counts, so layers and time are what there is to show. Thread-safe.
    /// </summary>
    internal sealed class TransferProgress : IDisposable
    {
        public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

        private static readonly Regex LayerLine = new Regex(@"^([0-9a-f]{12}): (.+)$", RegexOptions.CultureInvariant);
        private static readonly Regex DoneState = new Regex(
            @"^(Pushed|Layer already exists|Mounted from .+|Already exists|Pull complete)$", RegexOptions.CultureInvariant);

        private readonly HashSet<string> _layers = new HashSet<string>(StringComparer.Ordinal);
        private readonly HashSet<string> _done = new HashSet<string>(StringComparer.Ordinal);
        private readonly string _what;
        private readonly Action<string> _report;
        private readonly Func<TimeSpan> _clock;
        private readonly Timer? _timer;
        private readonly object _gate = new object();
        private TimeSpan _lastReport;
        private bool _disposed;

        /// <param name="what">"pushing REF" or "pulling REF".</param>
        /// <param name="startTimer">False in tests, which call <see cref="Tick"/> themselves.</param>
        public TransferProgress(string what, Action<string> report, Func<TimeSpan>? clock = null, bool startTimer = true)
        {
            _what = what;
            _report = report;
            if (clock == null)
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                clock = () => watch.Elapsed;
            }

            _clock = clock;
            _timer = startTimer ? new Timer(_ => Tick(), null, Interval, Interval) : null;
        }

        public void OnLine(string line)
        {
            var match = LayerLine.Match(line.Trim());
            if (!match.Success)
            {
                return;
            }

            lock (_gate)
            {
                _layers.Add(match.Groups[1].Value);
                if (DoneState.IsMatch(match.Groups[2].Value))
                {
                    _done.Add(match.Groups[1].Value);
                }
            }

            Tick();
        }

        /// <summary>Reports when 10 s have passed since the start or the last report.</summary>
        public void Tick()
        {
            // Reported under the lock, so that nothing is reported once Dispose has returned (the task has ended).
            lock (_gate)
            {
                var now = _clock();
                if (_disposed || now - _lastReport < Interval)
                {
                    return;
                }

                _lastReport = now;
                _report("EcrCache: " + _what + ": " + _done.Count.ToString(CultureInfo.InvariantCulture) + " of "
                    + _layers.Count.ToString(CultureInfo.InvariantCulture) + " layers done after " + now.TotalSeconds.ToString("0", CultureInfo.InvariantCulture) + " s");
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _disposed = true;
            }

            _timer?.Dispose();
        }
    }
}
