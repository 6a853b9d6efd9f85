using System.Globalization;

namespace EcrCache.Leases
{
    /// <summary>
    /// Keeps a held lease alive: every renew interval it writes the same record (same id) with a new expiry, the TTL
    /// from now. A holder that dies stops renewing, so its lease frees one TTL after the last renewal, not after the
    /// longest build. Each renewal's requests are retried by the store's client (the shared HTTP retry pipeline for
    /// registries, the AWS SDK's for S3); a renewal that still fails is logged and tried again at the next beat, and
    /// never fails the build. Once another build has taken the lease over, the beat stops (ECRC1344).
    /// </summary>
    internal sealed class LeaseHeartbeat : IDisposable
    {
        private readonly ILeaseBackend _backend;
        private readonly string _tag;
        private readonly TimeSpan _ttl;
        private readonly TimeSpan _interval;
        private readonly IBuildLog _log;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly Task _beating;
        private LeaseRecord _lease;
        private int _renewals;

        public LeaseHeartbeat(ILeaseBackend backend, string tag, LeaseRecord lease, TimeSpan ttl, TimeSpan interval, IBuildLog log)
        {
            _backend = backend;
            _tag = tag;
            _lease = lease;
            _ttl = ttl;
            _interval = interval;
            _log = log;
            _beating = Task.Run(() => BeatAsync(_stop.Token));
        }

        /// <summary>The lease as last written (the one to release).</summary>
        public LeaseRecord Lease => Volatile.Read(ref _lease);

        /// <summary>Successful renewals so far.</summary>
        public int Renewals => Volatile.Read(ref _renewals);

        /// <summary>Stops the beat (an in-flight renewal is cancelled) and waits for it, so nothing logs after the step.</summary>
        public void Dispose()
        {
            _stop.Cancel();
            try
            {
                if (_beating.Wait(TimeSpan.FromSeconds(15)))
                {
                    _stop.Dispose();
                }
            }
            catch (AggregateException)
            {
                // BeatAsync catches what it expects; anything else only ends the renewals.
            }
        }

        private async Task BeatAsync(CancellationToken stop)
        {
            var where = _backend.Describe(_tag);
            var lastRenewed = DateTimeOffset.UtcNow;
            var lapseWarned = false;
            try
            {
                while (true)
                {
                    await Task.Delay(_interval, stop).ConfigureAwait(false);
                    var current = Lease;
                    try
                    {
                        var taker = await RenewAsync(current, stop).ConfigureAwait(false);
                        if (taker != null)
                        {
                            _log.Warning(Diagnostic.Create(DiagnosticIds.LeaseLost, where, taker));
                            return;
                        }

                        lastRenewed = DateTimeOffset.UtcNow;
                        lapseWarned = false;
                        _log.Detail("EcrCache: renewed " + where + " until " + Lease.Expires.ToString("u", CultureInfo.InvariantCulture) + ".");
                    }
                    catch (Exception ex) when (!stop.IsCancellationRequested && IsStoreFailure(ex))
                    {
                        if (DateTimeOffset.UtcNow >= current.Expires && !lapseWarned)
                        {
                            _log.Warning(Diagnostic.Create(DiagnosticIds.LeaseRenewalLapsed, where, lastRenewed.ToString("u", CultureInfo.InvariantCulture), ex.Message, current.Expires.ToString("u", CultureInfo.InvariantCulture)));
                            lapseWarned = true;
                        }
                        else
                        {
                            _log.Info("EcrCache: renewing " + where + " failed (" + ex.Message + "); trying again in " + _interval.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s.");
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // The turn ended.
            }
        }

        /// <summary>Renews <paramref name="current"/>; returns who holds the lease instead when someone took it over, else null.</summary>
        private async Task<string?> RenewAsync(LeaseRecord current, CancellationToken stop)
        {
            if (_backend.NeedsSettleDelay)
            {
                // No compare-and-set: renew only while the lease is still ours (a waiter may have taken a lapsed one).
                var stored = await _backend.ReadAsync(_tag, stop).ConfigureAwait(false);
                if (stored != null && stored.Id != current.Id)
                {
                    return stored.Describe();
                }
            }

            var renewed = current.Renewed(_ttl);
            if (!await _backend.WriteAsync(_tag, renewed, current, stop).ConfigureAwait(false))
            {
                // A conditional store refused: someone else wrote the lease, or a write raced ours (S3's 409).
                var stored = await _backend.ReadAsync(_tag, stop).ConfigureAwait(false);
                if (stored == null || stored.Id != current.Id)
                {
                    return stored?.Describe() ?? "another build (which has released it since)";
                }

                throw new LeaseStoreException("the store refused the conditional write");
            }

            Volatile.Write(ref _lease, renewed);
            Interlocked.Increment(ref _renewals);
            return null;
        }

        private static bool IsStoreFailure(Exception ex) =>
            ex is EcrCacheException || ex is LeaseStoreException || ex is HttpRequestException || ex is IOException || ex is OperationCanceledException;
    }
}
