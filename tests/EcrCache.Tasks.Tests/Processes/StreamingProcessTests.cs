using System.Diagnostics;
using EcrCache.Processes;

namespace EcrCache.Tasks.Tests.Processes
{
    /// <summary>The real <see cref="StreamingProcess"/> against real processes (/bin/sh): raw pipes, kill, errors.</summary>
    [TestClass]
    public sealed class StreamingProcessTests
    {
        private const string Shell = "/bin/sh";

        [TestInitialize]
        public void RequireShell()
        {
            if (OperatingSystem.IsWindows() || !File.Exists(Shell))
            {
                Assert.Inconclusive("needs /bin/sh");
            }
        }

        private static string[] Sh(string script) => new[] { "-c", script };

        [TestMethod]
        public async Task Output_IsTheRawByteStream_AndStandardErrorIsKept()
        {
            using var child = new StreamingProcess(CancellationToken.None);
            long count = 0;
            var exitCode = await child.RunAsync(Shell, Sh("head -c 3000000 /dev/zero; echo done >&2; exit 4"), null, null, async output =>
            {
                var buffer = new byte[65536];
                int n;
                while ((n = await output.ReadAsync(buffer, 0, buffer.Length)) > 0)
                {
                    count += n;
                }
            });
            Assert.AreEqual(4, exitCode);
            Assert.AreEqual(3000000, count);
            Assert.AreEqual("done\n", child.StandardError);
        }

        [TestMethod]
        public async Task Input_IsPassedThrough_AndClosedWhenTheDelegateReturns()
        {
            using var child = new StreamingProcess(CancellationToken.None);
            var written = Enumerable.Range(0, 2000000).Select(i => (byte)i).ToArray();
            var echoed = new MemoryStream();
            var exitCode = await child.RunAsync(
                "/bin/cat",
                Array.Empty<string>(),
                null,
                input => input.WriteAsync(written, 0, written.Length),
                output => output.CopyToAsync(echoed)).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.AreEqual(0, exitCode);
            CollectionAssert.AreEqual(written, echoed.ToArray());
        }

        [TestMethod]
        public async Task Environment_IsSetAndRemovedForTheChild()
        {
            using var child = new StreamingProcess(CancellationToken.None);
            var environment = new Dictionary<string, string?> { ["ECRC_STREAM_SET"] = "v", ["HOME"] = null };
            var exitCode = await child.RunAsync(Shell, Sh("echo \"$ECRC_STREAM_SET ${HOME-unset}\" >&2"), environment, null, null);
            Assert.AreEqual(0, exitCode);
            Assert.AreEqual("v unset\n", child.StandardError);
        }

        [TestMethod]
        public async Task StandardError_IsBounded()
        {
            using var child = new StreamingProcess(CancellationToken.None);
            await child.RunAsync(Shell, Sh("i=0; while [ $i -lt 5000 ]; do echo 0123456789 >&2; i=$((i+1)); done"), null, null, null);
            Assert.IsTrue(child.StandardError.Length < 20 * 1024, "kept " + child.StandardError.Length + " characters");
            StringAssert.StartsWith(child.StandardError, "0123456789\n");
        }

        [TestMethod]
        [Timeout(60000, CooperativeCancellation = true)]
        public async Task Kill_FromADelegate_KillsTheTree_AndReportsTheKilledExitCode()
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-stream");
            try
            {
                var grandchildPidFile = Path.Combine(dir, "grandchild.pid");
                using var child = new StreamingProcess(CancellationToken.None);
                var watch = Stopwatch.StartNew();
                var exitCode = await child.RunAsync(Shell, Sh($"sleep 300 & echo $! > '{grandchildPidFile}'; echo started; wait"), null, null, async output =>
                {
                    using var reader = new StreamReader(output);
                    Assert.AreEqual("started", await reader.ReadLineAsync());
                    child.Kill();
                    await reader.ReadToEndAsync();
                }).WaitAsync(TimeSpan.FromSeconds(20));
                Assert.AreEqual(StreamingProcess.KilledExitCode, exitCode);
                Assert.IsTrue(watch.Elapsed < TimeSpan.FromSeconds(10), "took " + watch.Elapsed);
                await AssertGone(int.Parse(File.ReadAllText(grandchildPidFile).Trim()));
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [TestMethod]
        [Timeout(60000, CooperativeCancellation = true)]
        public async Task ADelegateThatThrows_KillsTheChild_AndItsExceptionIsRethrown()
        {
            using var child = new StreamingProcess(CancellationToken.None);
            var ex = await Assert.ThrowsExactlyAsync<InvalidDataException>(() => child.RunAsync(Shell, Sh("echo started; sleep 300"), null, null, async output =>
            {
                using var reader = new StreamReader(output);
                await reader.ReadLineAsync();
                throw new InvalidDataException("bad data");
            }).WaitAsync(TimeSpan.FromSeconds(20)));
            Assert.AreEqual("bad data", ex.Message);
        }

        [TestMethod]
        [Timeout(60000, CooperativeCancellation = true)]
        public async Task Cancellation_KillsTheTree_AndThrows()
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-stream");
            try
            {
                var grandchildPidFile = Path.Combine(dir, "grandchild.pid");
                using var cts = new CancellationTokenSource();
                using var child = new StreamingProcess(cts.Token);
                var run = child.RunAsync(Shell, Sh($"sleep 300 & echo $! > '{grandchildPidFile}'; echo started; wait"), null, null, async output =>
                {
                    using var reader = new StreamReader(output);
                    if (await reader.ReadLineAsync() == "started")
                    {
                        cts.Cancel();
                    }

                    await reader.ReadToEndAsync();
                });
                await Assert.ThrowsAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(20)));
                await AssertGone(int.Parse(File.ReadAllText(grandchildPidFile).Trim()));
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [TestMethod]
        public async Task MissingExecutable_ProcessStartException()
        {
            using var child = new StreamingProcess(CancellationToken.None);
            var ex = await Assert.ThrowsExactlyAsync<ProcessStartException>(() => child.RunAsync("/nonexistent/ecrcache-docker", new[] { "save" }, null, null, null));
            Assert.AreEqual("/nonexistent/ecrcache-docker", ex.FileName);
            Assert.IsInstanceOfType<System.ComponentModel.Win32Exception>(ex.InnerException);
        }

        private static async Task AssertGone(int pid)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
            while (ProcessRunnerTests.IsAlive(pid) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            Assert.IsFalse(ProcessRunnerTests.IsAlive(pid), $"the grandchild {pid} (sleep 300) survived");
        }
    }
}
