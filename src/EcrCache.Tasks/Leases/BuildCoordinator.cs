using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EcrCache.IO;

namespace EcrCache.Leases
{
    /// <summary>
    /// One build per key. Before building a miss, the engine asks for a <see cref="BuildTurn"/>: first the per-key
    /// lock on this machine (<see cref="FileLock"/> named by <see cref="LockPathFor"/>), then, when the store can hold one, the store's lease
    /// (<see cref="ILeaseBackend"/>). Whenever it has waited for someone else, it re-checks (the caller's
    /// <c>recheck</c>: local image, then the store) and returns the result the other build produced instead of a turn.
    /// The holder renews its lease on a heartbeat (<see cref="LeaseHeartbeat"/>), so a lease lapses one TTL after its
    /// holder died. A waiter takes over a lapsed lease, and waits for a live, renewing holder at most the lease timeout;
    /// either way it warns (ECRC1320) and builds itself. Failures of the lease store itself only cost coordination
    /// (ECRC1321), never the build.
    /// </summary>
    internal sealed class BuildCoordinator
    {
        private readonly IBuildLog _log;
        private readonly Func<string, string?> _environment;

        public BuildCoordinator(TimeSpan leaseTimeout, IBuildLog log, Func<string, string?> environment)
        {
            LeaseTimeout = leaseTimeout;
            _log = log;
            _environment = environment;
        }

        /// <summary>Zero turns coordination off (EcrCacheLeaseTimeout=0).</summary>
        public TimeSpan LeaseTimeout { get; }

        /// <summary>How often a waiter polls the lock, the lease and the store.</summary>
        public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

        /// <summary>How long a lease holds after its last renewal (EcrCacheLeaseTtl).</summary>
        public TimeSpan LeaseTtl { get; set; } = Options.ReliabilityOptions.DefaultLeaseTtl;

        /// <summary>How often the holder renews its lease (EcrCacheLeaseRenewInterval).</summary>
        public TimeSpan RenewInterval { get; set; } = Options.ReliabilityOptions.DefaultLeaseRenewInterval;

        /// <summary>How long to wait after writing a registry lease before reading it back.</summary>
        public TimeSpan SettleDelay { get; set; } = TimeSpan.FromSeconds(1.5);

        /// <summary>
        /// Waits for the right to build <paramref name="reference"/>. <paramref name="recheck"/> returns a result
        /// (e.g. "hit-pulled") when the image has appeared meanwhile, else null.
        /// </summary>
        public async Task<BuildTurn> AcquireAsync(
            string reference,
            string tag,
            ILeaseBackend? backend,
            Func<CancellationToken, Task<string?>> recheck,
            CancellationToken cancellationToken)
        {
            if (LeaseTimeout <= TimeSpan.Zero)
            {
                return new BuildTurn(null, null, null, null, _log);
            }

            var started = Stopwatch.StartNew();
            var localLock = await AcquireLocalAsync(reference, cancellationToken).ConfigureAwait(false);
            var turn = new BuildTurn(localLock.Lock, null, null, null, _log);
            try
            {
                if (localLock.Waited)
                {
                    var result = await recheck(cancellationToken).ConfigureAwait(false);
                    if (result != null)
                    {
                        turn.Dispose();
                        return new BuildTurn(null, null, null, result, _log);
                    }
                }

                if (backend != null)
                {
                    var lease = await AcquireLeaseAsync(tag, backend, recheck, cancellationToken).ConfigureAwait(false);
                    if (lease.Result != null)
                    {
                        turn.Dispose();
                        return new BuildTurn(null, null, null, lease.Result, _log);
                    }

                    turn = new BuildTurn(localLock.Lock, backend, tag, null, _log);
                    if (lease.Record != null)
                    {
                        turn.Hold(lease.Record, LeaseTtl, RenewInterval);
                        if (backend.NeedsSettleDelay)
                        {
                            var confirming = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                            turn.Confirm(ConfirmAsync(backend, tag, lease.Record, confirming.Token), confirming);
                        }
                    }
                }

                return turn;
            }
            catch
            {
                turn.Dispose();
                throw;
            }
        }

        /// <summary>
        /// The folder of the same-host build locks, shared by the builds of this user: <c>ECRCACHE_LOCK_DIR</c>, else
        /// <c>$XDG_RUNTIME_DIR/ecrcache-locks</c>, else <c>&lt;temp&gt;/ecrcache-locks</c>.
        /// </summary>
        public static string LockDirectory(Func<string, string?> environment)
        {
            var configured = environment("ECRCACHE_LOCK_DIR");
            if (!string.IsNullOrWhiteSpace(configured))
            {
                return configured!;
            }

            var runtime = environment("XDG_RUNTIME_DIR");
            return Path.Combine(string.IsNullOrWhiteSpace(runtime) ? Path.GetTempPath() : runtime!, "ecrcache-locks");
        }

        /// <summary>The lock file for an image reference (store image + tag): a hash, so any reference is a safe name.</summary>
        public static string LockPathFor(string directory, string reference)
        {
            byte[] hash;
            using (var sha = SHA256.Create())
            {
                hash = sha.ComputeHash(Encoding.UTF8.GetBytes(reference));
            }

            var name = new StringBuilder();
            for (var i = 0; i < 16; i++)
            {
                name.Append(hash[i].ToString("x2", CultureInfo.InvariantCulture));
            }

            return Path.Combine(directory, name + ".lock");
        }

        private async Task<(FileLock? Lock, bool Waited)> AcquireLocalAsync(string reference, CancellationToken cancellationToken)
        {
            string path;
            try
            {
                path = LockPathFor(LockDirectory(_environment), reference);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is ArgumentException)
            {
                _log.Warning(Diagnostic.Create(DiagnosticIds.LockUnavailable, reference, ex.Message));
                return (null, false);
            }

            var owner = "pid " + LeaseRecord.CurrentPid.ToString(CultureInfo.InvariantCulture) + " on " + Environment.MachineName + " since " + DateTimeOffset.UtcNow.ToString("u", CultureInfo.InvariantCulture) + " (" + reference + ")";
            var waited = Stopwatch.StartNew();
            var announced = false;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                FileLock? held;
                try
                {
                    held = FileLock.TryAcquire(path, owner);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    _log.Warning(Diagnostic.Create(DiagnosticIds.LockUnavailable, path, ex.Message));
                    return (null, false);
                }

                if (held != null)
                {
                    _log.Detail("EcrCache: holding the per-image lock " + path + ".");
                    if (announced)
                    {
                        _log.Info("EcrCache: the other build of " + reference + " on this machine finished after " + waited.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s; checking for its image.");
                    }

                    return (held, announced);
                }

                if (!announced)
                {
                    _log.Info("EcrCache: " + reference + " is being built by " + FileLock.DescribeHolder(path, "another build on this machine") + "; waiting for it (lock " + path + ").");
                    announced = true;
                }

                if (waited.Elapsed >= LeaseTimeout)
                {
                    _log.Warning(Diagnostic.Create(DiagnosticIds.LeaseExpired, reference, FileLock.DescribeHolder(path, "another build on this machine"), DateTimeOffset.UtcNow.ToString("u", CultureInfo.InvariantCulture), FormatTimeout()));
                    return (null, true);
                }

                await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
            }
        }

        private async Task<(LeaseRecord? Record, string? Result)> AcquireLeaseAsync(
            string tag,
            ILeaseBackend backend,
            Func<CancellationToken, Task<string?>> recheck,
            CancellationToken cancellationToken)
        {
            var where = backend.Describe(tag);
            LeaseRecord? waitingOn = null;
            var waitedAny = false;
            var waiting = Stopwatch.StartNew();

            // When the record last changed, by this host's clock (at the latest at the read before the one that saw
            // the change): a holder seen renewing is alive until a TTL after that, whatever the other host's clock
            // says its expiry is. Clock skew between hosts can then make a waiter wait longer, never take over early.
            TimeSpan? changedAt = null;
            var previousReadAt = TimeSpan.Zero;
            LeaseRecord? previous = null;
            var overdueWarned = false;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                LeaseRecord? current;
                try
                {
                    current = await backend.ReadAsync(tag, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is EcrCacheException || ex is LeaseStoreException)
                {
                    _log.Warning(Diagnostic.Create(DiagnosticIds.LeaseUnavailable, where, "the store", Describe(ex)));
                    return (null, null);
                }

                var now = DateTimeOffset.UtcNow;
                var readAt = waiting.Elapsed;
                if (current != null && previous != null && (current.Id != previous.Id || current.Expires != previous.Expires))
                {
                    changedAt = previousReadAt;
                }

                previous = current;
                previousReadAt = readAt;
                var live = current != null && !current.Released && !current.OwnerIsDeadOnThisHost()
                    && (current.IsHeldAt(now) || (changedAt != null && readAt - changedAt.Value < LeaseTtl));
                if (live && current != null && waiting.Elapsed < LeaseTimeout)
                {
                    if (waitingOn == null || waitingOn.Id != current.Id)
                    {
                        _log.Info("EcrCache: " + tag + " is being built by " + current.Describe() + " (" + where + "); waiting for its image.");
                        waitingOn = current;
                    }

                    waitedAny = true;
                    await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
                    var appeared = await recheck(cancellationToken).ConfigureAwait(false);
                    if (appeared != null)
                    {
                        return (null, appeared);
                    }

                    continue;
                }

                if (current != null && !current.Released && live)
                {
                    // A holder that still renews, but for longer than this build waits (EcrCacheLeaseTimeout).
                    if (!overdueWarned)
                    {
                        _log.Warning(Diagnostic.Create(DiagnosticIds.LeaseExpired, where, current.Describe(), now.ToString("u", CultureInfo.InvariantCulture), FormatTimeout()));
                        overdueWarned = true;
                    }
                }
                else if (current != null && !current.Released)
                {
                    if (current.OwnerIsDeadOnThisHost())
                    {
                        _log.Info("EcrCache: taking over " + where + " from " + current.Describe() + ", which no longer runs.");
                    }
                    else
                    {
                        _log.Warning(Diagnostic.Create(DiagnosticIds.LeaseExpired, where, current.Describe(), current.Expires.ToString("u", CultureInfo.InvariantCulture), FormatTimeout()));
                    }
                }

                if (waitedAny)
                {
                    // The holder let go: its image may be there now.
                    var appeared = await recheck(cancellationToken).ConfigureAwait(false);
                    if (appeared != null)
                    {
                        return (null, appeared);
                    }
                }

                var mine = LeaseRecord.ForThisProcess(LeaseTtl);
                try
                {
                    if (!await backend.WriteAsync(tag, mine, current, cancellationToken).ConfigureAwait(false))
                    {
                        waitedAny = true;
                        continue;
                    }

                }
                catch (Exception ex) when (ex is EcrCacheException || ex is LeaseStoreException)
                {
                    _log.Warning(Diagnostic.Create(DiagnosticIds.LeaseUnavailable, where, "the store", Describe(ex)));
                    return (null, null);
                }

                _log.Detail("EcrCache: holding " + where + " until " + mine.Expires.ToString("u", CultureInfo.InvariantCulture) + ".");
                return (mine, null);
            }
        }

        /// <summary>
        /// A registry has no compare-and-set: a racing builder's lease PUT may land just after ours. This reads the
        /// lease back after <see cref="SettleDelay"/> to see whose id is there, while the build already runs (the
        /// engine pushes nothing before it knows), so the wait costs a miss nothing unless the race was lost.
        /// </summary>
        private async Task<bool> ConfirmAsync(ILeaseBackend backend, string tag, LeaseRecord mine, CancellationToken cancellationToken)
        {
            var where = backend.Describe(tag);
            await Task.Delay(SettleDelay, cancellationToken).ConfigureAwait(false);
            LeaseRecord? check;
            try
            {
                check = await backend.ReadAsync(tag, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is EcrCacheException || ex is LeaseStoreException)
            {
                // As when the lease cannot be written: build without knowing, rather than not at all.
                _log.Warning(Diagnostic.Create(DiagnosticIds.LeaseUnavailable, where, "the store", Describe(ex)));
                return true;
            }

            if (check == null || check.Id != mine.Id)
            {
                _log.Info("EcrCache: lost the race for " + where + (check != null ? " to " + check.Describe() : string.Empty) + "; stopping this build and waiting for that one.");
                return false;
            }

            return true;
        }

        private static string Describe(Exception ex) => ex is EcrCacheException coded ? coded.Diagnostic.ToString() : ex.Message;

        private string FormatTimeout() =>
            LeaseTimeout.TotalMinutes >= 1
                ? LeaseTimeout.TotalMinutes.ToString("0.#", CultureInfo.InvariantCulture) + " minutes"
                : LeaseTimeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s";
    }

    /// <summary>
    /// The outcome of <see cref="BuildCoordinator.AcquireAsync"/>: either <see cref="OtherResult"/> (someone else's
    /// build produced the image; nothing to build) or the right to build, held until <see cref="Dispose"/>, which
    /// releases the store lease (under its own short timeout, also after cancellation) and then the local lock.
    /// </summary>
    internal sealed class BuildTurn : IDisposable
    {
        private readonly FileLock? _lock;
        private readonly ILeaseBackend? _backend;
        private readonly string? _tag;
        private readonly IBuildLog _log;
        private bool _disposed;

        internal BuildTurn(FileLock? buildLock, ILeaseBackend? backend, string? tag, string? otherResult, IBuildLog log)
        {
            _lock = buildLock;
            _backend = backend;
            _tag = tag;
            OtherResult = otherResult;
            _log = log;
        }

        /// <summary>Set when another build produced the image while we waited: the engine's result for this run.</summary>
        public string? OtherResult { get; }

        /// <summary>
        /// Whether the lease is really ours (false: a racing builder's write won), known a settle delay after it was
        /// taken; null when the store needs no check (S3 writes are conditional) or no lease is held. Nothing may be
        /// pushed before it is true.
        /// </summary>
        internal Task<bool>? Confirmation { get; private set; }

        private CancellationTokenSource? _confirming;

        /// <summary><see cref="Confirmation"/>, or true when there is nothing to confirm.</summary>
        public Task<bool> ConfirmedAsync() => Confirmation ?? Task.FromResult(true);

        internal void Confirm(Task<bool> confirmation, CancellationTokenSource cancel)
        {
            Confirmation = confirmation;
            _confirming = cancel;
        }

        private LeaseHeartbeat? _heartbeat;
        private LeaseRecord? _lease;

        /// <summary>The lease this turn holds, as last renewed.</summary>
        internal LeaseRecord? Lease => _heartbeat?.Lease ?? _lease;

        /// <summary>Successful renewals of the lease so far.</summary>
        internal int Renewals => _heartbeat?.Renewals ?? 0;

        /// <summary>Holds <paramref name="lease"/>, renewed every <paramref name="renewInterval"/> for <paramref name="ttl"/> until Dispose.</summary>
        internal void Hold(LeaseRecord lease, TimeSpan ttl, TimeSpan renewInterval)
        {
            _lease = lease;
            if (_backend != null)
            {
                _heartbeat = new LeaseHeartbeat(_backend, _tag!, lease, ttl, renewInterval, _log);
            }
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                // A check still running (the build failed first) must not log after the step ended.
                if (_confirming != null)
                {
                    _confirming.Cancel();
                    try
                    {
                        Confirmation!.GetAwaiter().GetResult();
                    }
                    catch (OperationCanceledException)
                    {
                    }

                    _confirming.Dispose();
                }

                // No renewal may land after the release below.
                _heartbeat?.Dispose();
                var lease = Lease;
                if (_backend != null && lease != null)
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                    try
                    {
                        // Only our own lease: after an expiry someone else may hold it now.
                        var current = _backend.ReadAsync(_tag!, timeout.Token).GetAwaiter().GetResult();
                        if (current != null && current.Id == lease.Id)
                        {
                            _backend.WriteAsync(_tag!, lease.AsReleased(), lease, timeout.Token).GetAwaiter().GetResult();
                            _log.Detail("EcrCache: released " + _backend.Describe(_tag!) + ".");
                        }
                    }
                    catch (Exception ex) when (ex is EcrCacheException || ex is LeaseStoreException || ex is OperationCanceledException)
                    {
                        _log.Detail("EcrCache: could not release " + _backend.Describe(_tag!) + " (" + ex.Message + "); it expires at " + lease.Expires.ToString("u", CultureInfo.InvariantCulture) + ".");
                    }
                }
            }
            finally
            {
                _lock?.Dispose();
            }
        }
    }
}
