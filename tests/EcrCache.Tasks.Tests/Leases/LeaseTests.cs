using System.Collections.Concurrent;
using System.Diagnostics;
using EcrCache.IO;
using EcrCache.Core;
using EcrCache.Leases;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;
using EcrCache.Tasks.Tests.Core;
using EcrCache.Tasks.Tests.Registries;

namespace EcrCache.Tasks.Tests.Leases
{
    /// <summary>An in-memory lease store (last write wins, like a registry tag), for the coordinator's logic.</summary>
    internal sealed class MemoryLeaseBackend : ILeaseBackend
    {
        private readonly ConcurrentDictionary<string, LeaseRecord> _leases = new();

        public int Writes;

        public bool NeedsSettleDelay => true;

        public string Describe(string tag) => "memory lease " + tag;

        public void Set(string tag, LeaseRecord record) => _leases[tag] = record;

        public LeaseRecord? Get(string tag) => _leases.TryGetValue(tag, out var r) ? r : null;

        public Task<LeaseRecord?> ReadAsync(string tag, CancellationToken cancellationToken) => Task.FromResult(Get(tag));

        public Task<bool> WriteAsync(string tag, LeaseRecord record, LeaseRecord? replacing, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Writes);
            _leases[tag] = record;
            return Task.FromResult(true);
        }
    }

    [TestClass]
    public sealed class LeaseTests
    {
        private static BuildCoordinator Coordinator(CapturingBuildLog log, string lockDir, double timeoutSeconds = 60) =>
            new BuildCoordinator(TimeSpan.FromSeconds(timeoutSeconds), log, n => n == "ECRCACHE_LOCK_DIR" ? lockDir : null)
            {
                PollInterval = TimeSpan.FromMilliseconds(50),
                SettleDelay = TimeSpan.FromMilliseconds(20),
            };

        [TestMethod]
        public void Record_RoundTripsThroughJson_AndGarbageIsNoLease()
        {
            var record = LeaseRecord.ForThisProcess(TimeSpan.FromMinutes(5));
            var parsed = LeaseRecord.FromJson(record.ToJson())!;
            Assert.AreEqual(record.Id, parsed.Id);
            Assert.AreEqual(record.Host, parsed.Host);
            Assert.AreEqual(record.Pid, parsed.Pid);
            Assert.AreEqual(record.Expires, parsed.Expires);
            Assert.IsTrue(parsed.IsHeldAt(DateTimeOffset.UtcNow));
            Assert.IsFalse(parsed.AsReleased().IsHeldAt(DateTimeOffset.UtcNow));
            Assert.IsNull(LeaseRecord.FromJson("{\"id\":1}"));
            Assert.IsNull(LeaseRecord.FromJson("not json"));
            Assert.IsNull(LeaseRecord.FromJson(""));
        }

        [TestMethod]
        public void Record_OwnerDeadOnThisHost_OnlyForAFinishedProcess()
        {
            using var finished = Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false })!;
            finished.WaitForExit();
            var now = DateTimeOffset.UtcNow;
            Assert.IsTrue(new LeaseRecord("a", Environment.MachineName, finished.Id, now, now.AddHours(1)).OwnerIsDeadOnThisHost());
            Assert.IsFalse(new LeaseRecord("b", Environment.MachineName, Environment.ProcessId, now, now.AddHours(1)).OwnerIsDeadOnThisHost(), "we are alive");
            Assert.IsFalse(new LeaseRecord("c", "some-other-host", finished.Id, now, now.AddHours(1)).OwnerIsDeadOnThisHost(), "another host's pids mean nothing here");
        }

        [TestMethod]
        public void BuildLock_IsExclusive_AndFreedOnDispose()
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-locks");
            var path = BuildCoordinator.LockPathFor(dir, "registry/app:abc");
            Assert.AreEqual(path, BuildCoordinator.LockPathFor(dir, "registry/app:abc"), "same reference, same file");
            Assert.AreNotEqual(path, BuildCoordinator.LockPathFor(dir, "registry/app:abd"));
            using (var first = FileLock.TryAcquire(path, "pid 1 on test"))
            {
                Assert.IsNotNull(first);
                Assert.IsNull(FileLock.TryAcquire(path, "pid 2 on test"), "a second holder is refused while the first holds it");
                Assert.AreEqual("pid 1 on test", FileLock.DescribeHolder(path, "another build on this machine"));
            }

            using var again = FileLock.TryAcquire(path, "pid 3");
            Assert.IsNotNull(again, "free after dispose");
        }

        [TestMethod]
        public void BuildLock_HeldByAnotherProcess_AndReleasedWhenItDies()
        {
            // flock(1) takes the same kind of lock .NET's FileShare.None takes on Unix: another process, a real lock.
            if (!File.Exists("/usr/bin/flock"))
            {
                Assert.Inconclusive("flock(1) is not installed");
            }

            var dir = TestPaths.NewTempDirectory("ecrcache-locks");
            var path = BuildCoordinator.LockPathFor(dir, "registry/app:xyz");
            Directory.CreateDirectory(dir);
            using var holder = Process.Start(new ProcessStartInfo("/usr/bin/flock", new[] { "-x", path, "sleep", "30" }) { UseShellExecute = false })!;
            try
            {
                var deadline = DateTime.UtcNow.AddSeconds(10);
                FileLock? mine;
                while ((mine = FileLock.TryAcquire(path, "me")) != null && DateTime.UtcNow < deadline)
                {
                    mine.Dispose();
                    Thread.Sleep(50);
                }

                Assert.IsNull(mine, "refused while flock(1) holds it");
                holder.Kill(entireProcessTree: true);
                holder.WaitForExit();
                FileLock? after = null;
                var until = DateTime.UtcNow.AddSeconds(10);
                while ((after = FileLock.TryAcquire(path, "me")) == null && DateTime.UtcNow < until)
                {
                    Thread.Sleep(50); // the killed sleep(1) child holds the inherited lock until the kernel reaps it
                }

                using var held = after;
                Assert.IsNotNull(held, "a dead holder's lock is free");

                // And the other way round: other processes see our lock.
                using var probe = Process.Start(new ProcessStartInfo("/usr/bin/flock", new[] { "-n", path, "true" }) { UseShellExecute = false })!;
                probe.WaitForExit();
                Assert.AreNotEqual(0, probe.ExitCode, "flock -n must find the lock held");
            }
            finally
            {
                if (!holder.HasExited)
                {
                    holder.Kill(entireProcessTree: true);
                }
            }
        }

        [TestMethod]
        public async Task Coordinator_FreeLease_IsTakenAndReleased()
        {
            var log = new CapturingBuildLog();
            var backend = new MemoryLeaseBackend();
            var turn = await Coordinator(log, TestPaths.NewTempDirectory("ecrcache-locks")).AcquireAsync("r/app:1", "1", backend, _ => Task.FromResult<string?>(null), CancellationToken.None);
            Assert.IsNull(turn.OtherResult);
            var held = backend.Get("1")!;
            Assert.IsTrue(held.IsHeldAt(DateTimeOffset.UtcNow));
            Assert.AreEqual(Environment.ProcessId, held.Pid);
            turn.Dispose();
            Assert.IsTrue(backend.Get("1")!.Released, "released when the turn ends");
        }

        [TestMethod]
        public async Task Coordinator_WaitsForTheHolder_ThenUsesItsImage()
        {
            var log = new CapturingBuildLog();
            var backend = new MemoryLeaseBackend();
            var now = DateTimeOffset.UtcNow;
            backend.Set("1", new LeaseRecord("other", "build-host-7", 4242, now, now.AddMinutes(10)));
            var published = false;
            _ = Task.Run(async () =>
            {
                await Task.Delay(300);
                published = true;
            });
            using var turn = await Coordinator(log, TestPaths.NewTempDirectory("ecrcache-locks")).AcquireAsync("r/app:1", "1", backend, _ => Task.FromResult<string?>(published ? CacheResult.HitPulled : null), CancellationToken.None);
            Assert.AreEqual(CacheResult.HitPulled, turn.OtherResult);
            StringAssert.Contains(log.AllText, "pid 4242 on build-host-7", "the waiter says who holds the lease");
            Assert.AreEqual(0, backend.Writes, "a waiter never writes the lease");
        }

        [TestMethod]
        public async Task Coordinator_ExpiredLease_WarnsECRC1320_AndTakesOver()
        {
            var log = new CapturingBuildLog();
            var backend = new MemoryLeaseBackend();
            var now = DateTimeOffset.UtcNow;
            backend.Set("1", new LeaseRecord("other", "build-host-7", 4242, now.AddMinutes(-40), now.AddMilliseconds(300)));
            using var turn = await Coordinator(log, TestPaths.NewTempDirectory("ecrcache-locks")).AcquireAsync("r/app:1", "1", backend, _ => Task.FromResult<string?>(null), CancellationToken.None);
            Assert.IsNull(turn.OtherResult, "nobody produced the image: build it here");
            CollectionAssert.Contains(log.WarningCodes.ToList(), "ECRC1320");
            Assert.AreEqual(Environment.ProcessId, backend.Get("1")!.Pid, "the lease is ours now");
        }

        [TestMethod]
        public async Task Coordinator_DeadOwnerOnThisHost_IsTakenOverAtOnce_WithoutWarning()
        {
            using var finished = Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false })!;
            finished.WaitForExit();
            var log = new CapturingBuildLog();
            var backend = new MemoryLeaseBackend();
            var now = DateTimeOffset.UtcNow;
            backend.Set("1", new LeaseRecord("crashed", Environment.MachineName, finished.Id, now, now.AddMinutes(30)));
            using var turn = await Coordinator(log, TestPaths.NewTempDirectory("ecrcache-locks")).AcquireAsync("r/app:1", "1", backend, _ => Task.FromResult<string?>(null), CancellationToken.None);
            Assert.IsNull(turn.OtherResult);
            Assert.AreEqual(0, log.Warnings.Count, log.AllText);
            StringAssert.Contains(log.AllText, "no longer runs");
        }

        [TestMethod]
        public async Task Coordinator_LosingTheWriteRace_MeansWaiting()
        {
            // Another host's write lands between our write and our read-back. The build may start at once (the
            // read-back runs beside it), but the turn's confirmation says we lost: nothing may be pushed, and the
            // next turn waits for the winner's image.
            var log = new CapturingBuildLog();
            var backend = new RacingBackend();
            var coordinator = Coordinator(log, TestPaths.NewTempDirectory("ecrcache-locks"));
            Func<CancellationToken, Task<string?>> recheck = _ => Task.FromResult<string?>(backend.Rechecks++ > 2 ? CacheResult.HitPulled : null);
            var clock = Stopwatch.StartNew();
            using (var turn = await coordinator.AcquireAsync("r/app:1", "1", backend, recheck, CancellationToken.None))
            {
                var handedOut = clock.Elapsed;
                Assert.IsNull(turn.OtherResult, "the lease was written: the build may start");
                Assert.IsFalse(await turn.ConfirmedAsync(), "the read-back shows the other host's lease");
                Assert.IsTrue(clock.Elapsed - handedOut >= TimeSpan.FromMilliseconds(15), "the turn is handed out before the settle delay, not after it");
            }

            StringAssert.Contains(log.AllText, "lost the race");
            using var again = await coordinator.AcquireAsync("r/app:1", "1", backend, recheck, CancellationToken.None);
            Assert.AreEqual(CacheResult.HitPulled, again.OtherResult);
        }

        private sealed class RacingBackend : ILeaseBackend
        {
            private LeaseRecord? _current;

            public int Rechecks;

            public bool NeedsSettleDelay => true;

            public string Describe(string tag) => "racing lease";

            public Task<LeaseRecord?> ReadAsync(string tag, CancellationToken cancellationToken) => Task.FromResult(_current);

            public Task<bool> WriteAsync(string tag, LeaseRecord record, LeaseRecord? replacing, CancellationToken cancellationToken)
            {
                var now = DateTimeOffset.UtcNow;
                _current = new LeaseRecord("winner", "other-host", 1, now, now.AddMinutes(5));
                return Task.FromResult(true);
            }
        }

        [TestMethod]
        public async Task Coordinator_LeaseStoreFailure_WarnsECRC1321_AndBuilds()
        {
            var log = new CapturingBuildLog();
            var turn = await Coordinator(log, TestPaths.NewTempDirectory("ecrcache-locks")).AcquireAsync("r/app:1", "1", new FailingBackend(), _ => Task.FromResult<string?>(null), CancellationToken.None);
            Assert.IsNull(turn.OtherResult);
            CollectionAssert.Contains(log.WarningCodes.ToList(), "ECRC1321");
            turn.Dispose();
        }

        private sealed class FailingBackend : ILeaseBackend
        {
            public bool NeedsSettleDelay => true;

            public string Describe(string tag) => "failing lease";

            public Task<LeaseRecord?> ReadAsync(string tag, CancellationToken cancellationToken) => Task.FromResult<LeaseRecord?>(null);

            public Task<bool> WriteAsync(string tag, LeaseRecord record, LeaseRecord? replacing, CancellationToken cancellationToken) =>
                throw new EcrCache.Diagnostics.EcrCacheException(EcrCache.Diagnostics.DiagnosticIds.RegistryAuthRefused, "r", "app", 403, "denied");
        }

        [TestMethod]
        public async Task Coordinator_Cancelled_WhileWaiting_LeavesNothingHeld()
        {
            var log = new CapturingBuildLog();
            var lockDir = TestPaths.NewTempDirectory("ecrcache-locks");
            var path = BuildCoordinator.LockPathFor(lockDir, "r/app:1");
            using (var other = FileLock.TryAcquire(path, "pid 99 on test"))
            {
                using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
                await Assert.ThrowsAsync<OperationCanceledException>(() => Coordinator(log, lockDir).AcquireAsync("r/app:1", "1", null, _ => Task.FromResult<string?>(null), cancel.Token));
                StringAssert.Contains(log.AllText, "pid 99 on test", "the waiter names the holder");
            }

            using var free = FileLock.TryAcquire(path, "after");
            Assert.IsNotNull(free, "the cancelled waiter holds nothing");
        }

        [TestMethod]
        [TestCategory(Categories.Registry)]
        public async Task RegistryLeaseTag_WritesReadsAndReleases_OnARealRegistry()
        {
            var registry = TestServices.Registry;
            var repository = "ecrcache-tests/lease-" + Guid.NewGuid().ToString("N").Substring(0, 12);
            var endpoint = RegistryEndpoint.Parse(registry, false);
            var log = new RecordingLog();
            using var client = new RegistryClient(endpoint, new StaticCredentials(), log) { Access = RegistryAccess.Pull | RegistryAccess.Push };
            var backend = new RegistryLeaseBackend(client, repository, "registry " + registry);
            Assert.IsNull(await backend.ReadAsync("abc", CancellationToken.None), "no lease yet");

            var mine = LeaseRecord.ForThisProcess(TimeSpan.FromMinutes(1));
            Assert.IsTrue(await backend.WriteAsync("abc", mine, null, CancellationToken.None));
            var read = await backend.ReadAsync("abc", CancellationToken.None);
            Assert.AreEqual(mine.Id, read!.Id);
            Assert.IsTrue(read.IsHeldAt(DateTimeOffset.UtcNow));

            await backend.WriteAsync("abc", mine.AsReleased(), mine, CancellationToken.None);
            Assert.IsTrue((await backend.ReadAsync("abc", CancellationToken.None))!.Released);
            Assert.IsNull(await client.HeadManifestAsync(repository, "abc", CancellationToken.None), "the lease never creates the image tag itself");
        }

        [TestMethod]
        [TestCategory(Categories.Moto)]
        public async Task S3LeaseObject_IsACompareAndSet_OnMoto()
        {
            var s3 = EcrCache.Tasks.Tests.Stores.Tarballs.S3.MotoS3.Client(EcrCache.Tasks.Tests.Stores.Ecr.Moto.Endpoint);
            var bucket = EcrCache.Tasks.Tests.Stores.Tarballs.S3.MotoS3.NewBucket(s3);
            try
            {
                var a = new S3LeaseBackend(s3, bucket, "cache/", "s3 test");
                var b = new S3LeaseBackend(s3, bucket, "cache/", "s3 test");
                Assert.IsNull(await a.ReadAsync("abc", CancellationToken.None));

                var first = LeaseRecord.ForThisProcess(TimeSpan.FromMinutes(1));
                var second = LeaseRecord.ForThisProcess(TimeSpan.FromMinutes(1));
                Assert.IsTrue(await a.WriteAsync("abc", first, null, CancellationToken.None), "a free lease is taken");
                Assert.IsFalse(await b.WriteAsync("abc", second, null, CancellationToken.None), "If-None-Match: * refuses the second writer");
                Assert.AreEqual(first.Id, (await b.ReadAsync("abc", CancellationToken.None))!.Id);

                // Taking over (after expiry) is conditional on the ETag that was read: only one of two racers wins.
                var third = LeaseRecord.ForThisProcess(TimeSpan.FromMinutes(1));
                Assert.IsTrue(await b.WriteAsync("abc", second, first, CancellationToken.None), "replacing the lease read");
                Assert.IsFalse(await a.WriteAsync("abc", third, null, CancellationToken.None), "still refused while someone holds it");

                await b.WriteAsync("abc", second.AsReleased(), second, CancellationToken.None);
                Assert.IsNull(await a.ReadAsync("abc", CancellationToken.None), "released = gone");
            }
            finally
            {
                EcrCache.Tasks.Tests.Stores.Tarballs.S3.MotoS3.DeleteBucket(s3, bucket);
            }
        }

        private sealed class StaticCredentials : IRegistryCredentialProvider
        {
            public Task<RegistryCredential?> GetAsync(string host, CancellationToken cancellationToken) => Task.FromResult<RegistryCredential?>(null);
        }
    }
}
