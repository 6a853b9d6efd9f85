using System.Collections.Concurrent;
using System.Diagnostics;
using EcrCache.Diagnostics;
using EcrCache.Leases;
using EcrCache.Options;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;
using EcrCache.Tasks.Tests.Core;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Leases
{
    /// <summary>
    /// Renewed leases (docs/reliability.md): the holder's heartbeat, a waiter's take-over of a lease nobody renews,
    /// the lease timeout as the longest wait for a renewing holder, renewals that fail or find the lease taken over,
    /// and the heartbeat on a real registry and on moto's S3. Another host is a record with a foreign host name
    /// (its pid means nothing here), renewed or not by the test.
    /// </summary>
    [TestClass]
    public sealed class RenewedLeaseTests
    {
        private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

        private static BuildCoordinator Coordinator(CapturingBuildLog log, double timeoutSeconds = 60, double ttlSeconds = 0.8, double renewSeconds = 0.15) =>
            new BuildCoordinator(TimeSpan.FromSeconds(timeoutSeconds), log, n => n == "ECRCACHE_LOCK_DIR" ? TestPaths.NewTempDirectory("ecrcache-locks") : null)
            {
                PollInterval = Poll,
                SettleDelay = TimeSpan.FromMilliseconds(20),
                LeaseTtl = TimeSpan.FromSeconds(ttlSeconds),
                RenewInterval = TimeSpan.FromSeconds(renewSeconds),
            };

        private static Task<string?> Nothing(CancellationToken cancellationToken) => Task.FromResult<string?>(null);

        /// <summary>Another host's build: writes its lease, renews it every <paramref name="every"/> until told to stop (it "dies").</summary>
        private sealed class OtherHost : IDisposable
        {
            private readonly CancellationTokenSource _alive = new CancellationTokenSource();
            private readonly Task _renewing;

            public OtherHost(ILeaseBackend backend, string tag, TimeSpan ttl, TimeSpan every, TimeSpan clockSkew = default)
            {
                // The first record is valid by anyone's clock; the renewals use the skewed one.
                var now = DateTimeOffset.UtcNow;
                var record = new LeaseRecord("other-" + Guid.NewGuid().ToString("N"), "build-host-7", 4242, now, now + ttl);
                backend.WriteAsync(tag, record, null, CancellationToken.None).GetAwaiter().GetResult();
                _renewing = Task.Run(async () =>
                {
                    while (!_alive.IsCancellationRequested)
                    {
                        try
                        {
                            await Task.Delay(every, _alive.Token);
                        }
                        catch (OperationCanceledException)
                        {
                            return;
                        }

                        // As a real holder does: renew only while the lease is still its own.
                        if ((await backend.ReadAsync(tag, CancellationToken.None))?.Id != record.Id)
                        {
                            return;
                        }

                        var renewed = record with { Expires = DateTimeOffset.UtcNow + clockSkew + ttl };
                        await backend.WriteAsync(tag, renewed, record, CancellationToken.None);
                        record = renewed;
                    }
                });
            }

            public void Die()
            {
                _alive.Cancel();
                _renewing.Wait();
            }

            public void Dispose() => Die();
        }

        [TestMethod]
        [DataRow(null, null, 20, 90)]
        [DataRow("00:00:02", "00:00:06", 2, 6)]
        [DataRow("1", "00:05:00", 60, 300)]
        public void Options_RenewIntervalAndTtl_Parse(string? renew, string? ttl, int renewSeconds, int ttlSeconds)
        {
            var raw = new RawOptions { ProjectDirectory = TestPaths.NewTempDirectory("ecrcache-rel"), ProjectName = "p", ["DockerfileInline"] = "FROM scratch\n", Environment = _ => null };
            raw["LeaseRenewInterval"] = renew;
            raw["LeaseTtl"] = ttl;
            var options = OptionsParser.Parse(raw, new CapturingBuildLog());
            Assert.AreEqual(TimeSpan.FromSeconds(renewSeconds), options.LeaseRenewInterval);
            Assert.AreEqual(TimeSpan.FromSeconds(ttlSeconds), options.LeaseTtl);
        }

        [TestMethod]
        public async Task Holder_RenewsItsLease_SoAWaiterKeepsWaitingPastTheTtl()
        {
            var backend = new MemoryLeaseBackend();
            var holderLog = new CapturingBuildLog();
            using var turn = await Coordinator(holderLog).AcquireAsync("r/app:1", "1", backend, Nothing, CancellationToken.None);
            var first = backend.Get("1")!;
            Assert.IsTrue(first.Expires - first.Acquired <= TimeSpan.FromSeconds(1), "a new lease holds for the TTL, not the lease timeout");

            // A build elsewhere (its own lock folder) waits three TTLs: the lease never lapses, so it never takes over.
            var waiterLog = new CapturingBuildLog();
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(2.4));
            await Assert.ThrowsAsync<OperationCanceledException>(() => Coordinator(waiterLog).AcquireAsync("r/app:1", "1", backend, Nothing, patience.Token));
            Assert.AreEqual(0, waiterLog.Warnings.Count, waiterLog.AllText);
            var renewed = backend.Get("1")!;
            Assert.AreEqual(first.Id, renewed.Id, "still the holder's lease");
            Assert.IsTrue(renewed.Expires > DateTimeOffset.UtcNow, "renewed into the future");
            Assert.IsTrue(turn.Renewals >= 5, "about one renewal per 150 ms over 2.4 s, got " + turn.Renewals);
            turn.Dispose();
            Assert.IsTrue(backend.Get("1")!.Released, "released at the end");
            var writes = backend.Writes;
            await Task.Delay(500);
            Assert.AreEqual(writes, backend.Writes, "no renewal after the release");
        }

        [TestMethod]
        public async Task HolderOnAnotherHostDies_TakenOverWithinTheTtlPlusAPoll()
        {
            var backend = new MemoryLeaseBackend();
            var ttl = TimeSpan.FromSeconds(0.8);
            var other = new OtherHost(backend, "1", ttl, TimeSpan.FromMilliseconds(150));
            var log = new CapturingBuildLog();
            var died = new Stopwatch();
            var waiting = Task.Run(() => Coordinator(log).AcquireAsync("r/app:1", "1", backend, Nothing, CancellationToken.None));
            await Task.Delay(1000);
            Assert.IsFalse(waiting.IsCompleted, "the renewing holder is waited for");
            other.Die();
            died.Start();
            using var turn = await waiting;
            var took = died.Elapsed;
            Assert.IsNull(turn.OtherResult);
            CollectionAssert.Contains(log.WarningCodes.ToList(), "ECRC1320");
            Assert.AreEqual(Environment.ProcessId, backend.Get("1")!.Pid, "the lease is ours now");
            Assert.IsTrue(took < ttl + Poll + TimeSpan.FromSeconds(1), "taken over " + took.TotalMilliseconds + " ms after the holder died (TTL 800 ms)");
        }

        [TestMethod]
        public async Task RenewingHolder_IsWaitedForAtMostTheLeaseTimeout()
        {
            var backend = new MemoryLeaseBackend();
            using var other = new OtherHost(backend, "1", TimeSpan.FromSeconds(0.8), TimeSpan.FromMilliseconds(150));
            var log = new CapturingBuildLog();
            var clock = Stopwatch.StartNew();
            using var turn = await Coordinator(log, timeoutSeconds: 1.5).AcquireAsync("r/app:1", "1", backend, Nothing, CancellationToken.None);
            other.Die();
            Assert.IsTrue(clock.Elapsed >= TimeSpan.FromSeconds(1.5) && clock.Elapsed < TimeSpan.FromSeconds(4), "waited " + clock.Elapsed);
            Assert.AreEqual(1, log.WarningCodes.Count(c => c == "ECRC1320"), log.AllText);
            Assert.AreEqual(turn.Lease!.Id, backend.Get("1")!.Id);
        }

        [TestMethod]
        public async Task HolderSeenRenewing_IsAlive_EvenWhenItsClockSaysItExpired()
        {
            // After the first record its expiries are in the past by this host's clock; that it renews is what counts.
            var backend = new MemoryLeaseBackend();
            using var other = new OtherHost(backend, "1", TimeSpan.FromSeconds(0.8), TimeSpan.FromMilliseconds(150), clockSkew: TimeSpan.FromMinutes(-10));
            var log = new CapturingBuildLog();
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await Assert.ThrowsAsync<OperationCanceledException>(() => Coordinator(log).AcquireAsync("r/app:1", "1", backend, Nothing, patience.Token));
            Assert.AreEqual("build-host-7", backend.Get("1")!.Host, "never taken over");
        }

        [TestMethod]
        public async Task FailingRenewals_AreLoggedAndRetried_NeverFailTheBuild()
        {
            var backend = new FlakyBackend();
            var log = new CapturingBuildLog();
            var turn = await Coordinator(log, ttlSeconds: 0.5, renewSeconds: 0.1).AcquireAsync("r/app:1", "1", backend, Nothing, CancellationToken.None);
            backend.Failing = true;
            await Task.Delay(1200);
            Assert.IsTrue(log.AllText.Contains("renewing memory lease 1 failed", StringComparison.Ordinal), log.AllText);
            Assert.AreEqual(1, log.WarningCodes.Count(c => c == "ECRC1343"), "one warning once the TTL passed: " + log.AllText);
            backend.Failing = false;
            await Task.Delay(400);
            Assert.IsTrue(turn.Renewals >= 1 && backend.Get("1")!.Expires > DateTimeOffset.UtcNow, "renewals resume when the store answers again");
            turn.Dispose();
            Assert.IsTrue(backend.Get("1")!.Released);
            Assert.AreEqual(0, log.Errors.Count);
        }

        [TestMethod]
        public async Task LeaseTakenOverWhileBuilding_WarnsECRC1344_AndStopsRenewing()
        {
            var backend = new MemoryLeaseBackend();
            var log = new CapturingBuildLog();
            var turn = await Coordinator(log).AcquireAsync("r/app:1", "1", backend, Nothing, CancellationToken.None);
            var now = DateTimeOffset.UtcNow;
            var taker = new LeaseRecord("taker", "build-host-9", 77, now, now.AddMinutes(1));
            backend.Set("1", taker);
            await Task.Delay(600);
            CollectionAssert.Contains(log.WarningCodes.ToList(), "ECRC1344");
            StringAssert.Contains(log.AllText, "build-host-9");
            turn.Dispose();
            Assert.AreEqual("taker", backend.Get("1")!.Id, "neither renewed nor released over the taker");
            Assert.IsFalse(backend.Get("1")!.Released);
        }

        [TestMethod]
        [TestCategory(Categories.Registry)]
        public async Task RegistryLeaseTag_IsRenewed_OnARealRegistry()
        {
            var registry = TestServices.Registry;
            var repository = "ecrcache-tests/renew-" + Guid.NewGuid().ToString("N").Substring(0, 12);
            using var client = new RegistryClient(RegistryEndpoint.Parse(registry, false), new NoCredentials(), new RecordingLog()) { Access = RegistryAccess.Pull | RegistryAccess.Push };
            var backend = new RegistryLeaseBackend(client, repository, "registry " + registry);
            await AssertRenewedAndWaitedFor(backend, repository);
            Assert.IsTrue((await backend.ReadAsync("abc", CancellationToken.None))!.Released, "released");
        }

        [TestMethod]
        [TestCategory(Categories.Moto)]
        public async Task S3LeaseObject_IsRenewedWithItsETag_AndATakeOverStopsTheRenewals()
        {
            var s3 = EcrCache.Tasks.Tests.Stores.Tarballs.S3.MotoS3.Client(EcrCache.Tasks.Tests.Stores.Ecr.Moto.Endpoint);
            var bucket = EcrCache.Tasks.Tests.Stores.Tarballs.S3.MotoS3.NewBucket(s3);
            try
            {
                var backend = new S3LeaseBackend(s3, bucket, "cache/", "s3 test");
                await AssertRenewedAndWaitedFor(backend, "s3");
                Assert.IsNull(await backend.ReadAsync("abc", CancellationToken.None), "released = deleted");

                // A take-over (another host's conditional replace) makes the next renewal's If-Match fail.
                var log = new CapturingBuildLog();
                var turn = await Coordinator(log, ttlSeconds: 3, renewSeconds: 0.5).AcquireAsync("s3/app:abc", "abc", backend, Nothing, CancellationToken.None);
                var other = new S3LeaseBackend(s3, bucket, "cache/", "s3 test");
                var read = await other.ReadAsync("abc", CancellationToken.None);
                var now = DateTimeOffset.UtcNow;
                Assert.IsTrue(await other.WriteAsync("abc", new LeaseRecord("taker", "build-host-9", 77, now, now.AddMinutes(1)), read, CancellationToken.None));
                await Task.Delay(1500);
                CollectionAssert.Contains(log.WarningCodes.ToList(), "ECRC1344", log.AllText);
                turn.Dispose();
                Assert.AreEqual("taker", (await other.ReadAsync("abc", CancellationToken.None))!.Id, "the taker's lease stays");
            }
            finally
            {
                EcrCache.Tasks.Tests.Stores.Tarballs.S3.MotoS3.DeleteBucket(s3, bucket);
            }
        }

        /// <summary>A 2 s TTL renewed every 0.5 s on a real store: a waiter still waits after 4 s, and the record moved on.</summary>
        private static async Task AssertRenewedAndWaitedFor(ILeaseBackend backend, string name)
        {
            var log = new CapturingBuildLog();
            var turn = await Coordinator(log, ttlSeconds: 2, renewSeconds: 0.5).AcquireAsync(name + "/app:abc", "abc", backend, Nothing, CancellationToken.None);
            var first = (await backend.ReadAsync("abc", CancellationToken.None))!;
            var waiterLog = new CapturingBuildLog();
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(4));
            await Assert.ThrowsAsync<OperationCanceledException>(() => Coordinator(waiterLog, ttlSeconds: 2).AcquireAsync(name + "/app:abc", "abc", backend, Nothing, patience.Token));
            var later = (await backend.ReadAsync("abc", CancellationToken.None))!;
            Assert.AreEqual(first.Id, later.Id, "still the holder's lease" + waiterLog.AllText);
            Assert.IsTrue(later.Expires > first.Expires.AddSeconds(1.5), "renewed: " + first.Expires.ToString("o") + " then " + later.Expires.ToString("o"));
            Assert.AreEqual(0, log.Warnings.Count + waiterLog.Warnings.Count, log.AllText + waiterLog.AllText);
            Assert.IsTrue(turn.Renewals >= 3, "renewals: " + turn.Renewals);
            turn.Dispose();
        }

        /// <summary>A lease store whose writes fail while <see cref="Failing"/> is set (reads still answer).</summary>
        private sealed class FlakyBackend : ILeaseBackend
        {
            private readonly ConcurrentDictionary<string, LeaseRecord> _leases = new();

            public volatile bool Failing;

            public bool NeedsSettleDelay => true;

            public string Describe(string tag) => "memory lease " + tag;

            public LeaseRecord? Get(string tag) => _leases.TryGetValue(tag, out var r) ? r : null;

            public Task<LeaseRecord?> ReadAsync(string tag, CancellationToken cancellationToken) => Task.FromResult(Get(tag));

            public Task<bool> WriteAsync(string tag, LeaseRecord record, LeaseRecord? replacing, CancellationToken cancellationToken)
            {
                if (Failing)
                {
                    throw new LeaseStoreException("503 Service Unavailable");
                }

                _leases[tag] = record;
                return Task.FromResult(true);
            }
        }

        private sealed class NoCredentials : IRegistryCredentialProvider
        {
            public Task<RegistryCredential?> GetAsync(string host, CancellationToken cancellationToken) => Task.FromResult<RegistryCredential?>(null);
        }
    }
}
