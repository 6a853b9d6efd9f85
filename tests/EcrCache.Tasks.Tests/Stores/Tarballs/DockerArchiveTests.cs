using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Processes;
using EcrCache.Stores.Tarballs;
using EcrCache.Tasks.Tests.Core;

namespace EcrCache.Tasks.Tests.Stores.Tarballs
{
    /// <summary>
    /// The failure paths of the 'docker save' and 'docker load' pipes against the real docker: the other end of the
    /// pipe fails while docker still runs, so docker is killed and the failure is reported as it was.
    /// </summary>
    [TestClass]
    public sealed class DockerArchiveTests
    {
        private TarballProject _project = null!;
        private string _image = null!;

        [TestInitialize]
        public void SetUp()
        {
            RealDocker.Require();
            _project = new TarballProject("ecrcache-archive");
            _image = _project.Repository + ":big";

            // 20 MB of random bytes: far more than the pipe and the copy queue hold, so docker is still writing when
            // the destination fails.
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var build = ProcessRunner.Instance.RunAsync(
                new ProcessSpec(RealDocker.Executable, new[] { "build", "-q", "-t", _image, "-" }) { StandardInput = _project.Dockerfile(20_000_000) },
                cts.Token).GetAwaiter().GetResult();
            Assert.AreEqual(0, build.ExitCode, build.StandardError);
        }

        [TestCleanup]
        public void TearDown() => _project?.Dispose();

        private static DockerCli Docker() => new DockerCli(RealDocker.Executable, ProcessRunner.Instance, new CapturingBuildLog());

        [TestMethod]
        [Timeout(120000, CooperativeCancellation = true)]
        public async Task SaveIntoAFailingDestination_KillsDocker_AndIsECRC1740WithTheWriteError()
        {
            using var destination = new FailingStream(new MemoryStream(), failAfter: 0);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => DockerArchive.SaveAsync(Docker(), new[] { _image }, destination, new CapturingBuildLog(), CancellationToken.None));
            StringAssert.StartsWith(ex.Message, "ECRC1740");
            StringAssert.Contains(ex.Message, "exit code " + StreamingProcess.KilledExitCode);
            Assert.IsInstanceOfType<IOException>(ex.InnerException);
            Assert.AreEqual(0, RealDocker.ProcessesMentioning("save " + _image).Count, "docker save was killed");
        }

        [TestMethod]
        [Timeout(120000, CooperativeCancellation = true)]
        public async Task LoadFromASourceThatFails_KillsDocker_AndThrowsTheSourceError()
        {
            var saved = new MemoryStream();
            await DockerArchive.SaveAsync(Docker(), new[] { _image }, saved, new CapturingBuildLog(), CancellationToken.None);
            Assert.AreEqual(0, RealDocker.Run("rmi", _image).ExitCode);

            // Half of a valid tarball, then a network error: docker load waits for the rest and must load nothing.
            using var source = new FailingStream(new MemoryStream(saved.ToArray()), failAfter: saved.Length / 2);
            var ex = await Assert.ThrowsExactlyAsync<IOException>(() => DockerArchive.LoadAsync(Docker(), source, "the test tarball", new CapturingBuildLog(), CancellationToken.None));
            Assert.AreEqual(FailingStream.Message, ex.Message);
            Assert.IsFalse(RealDocker.ImageExists(_image), "nothing was loaded");
        }

        /// <summary>Reads or writes through to a stream until <c>failAfter</c> bytes have passed, then throws IOException.</summary>
        private sealed class FailingStream : Stream
        {
            public const string Message = "the connection was reset (test)";

            private readonly Stream _inner;
            private readonly long _failAfter;
            private long _passed;

            public FailingStream(Stream inner, long failAfter)
            {
                _inner = inner;
                _failAfter = failAfter;
            }

            public override bool CanRead => true;

            public override bool CanSeek => false;

            public override bool CanWrite => true;

            public override long Length => throw new NotSupportedException();

            public override long Position
            {
                get => _passed;
                set => throw new NotSupportedException();
            }

            public override void Flush()
            {
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                Check();
                var n = _inner.Read(buffer, offset, (int)Math.Min(count, Math.Max(1, _failAfter - _passed)));
                _passed += n;
                return n;
            }

            public override void Write(byte[] buffer, int offset, int count)
            {
                Check();
                _inner.Write(buffer, offset, count);
                _passed += count;
            }

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();

            private void Check()
            {
                if (_passed >= _failAfter)
                {
                    throw new IOException(Message);
                }
            }
        }
    }
}
