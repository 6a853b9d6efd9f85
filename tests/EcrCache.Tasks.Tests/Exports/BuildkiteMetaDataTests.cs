using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Exports;
using EcrCache.Processes;

namespace EcrCache.Tasks.Tests.Exports
{
    /// <summary>
    /// Runs <see cref="BuildkiteMetaData"/> against a fake <c>buildkite-agent</c> shell script (there is no real agent
    /// on the test machines) that records its arguments, one per line in brackets, and its stdin byte for byte.
    /// </summary>
    [TestClass]
    public sealed class BuildkiteMetaDataTests
    {
        private const string FakeAgent =
            "#!/bin/sh\n" +
            "out=\"$(dirname \"$0\")\"\n" +
            "for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done > \"$out/argv\"\n" +
            "cat > \"$out/stdin\"\n" +
            "if [ -n \"$FAKE_AGENT_FAIL\" ]; then\n" +
            "  echo '2024-01-01 10:00:00 INFO   Reading meta-data value from STDIN' >&2\n" +
            "  echo \"2024-01-01 10:00:00 FATAL  $FAKE_AGENT_FAIL\" >&2\n" +
            "  exit 3\n" +
            "fi\n";

        private static string CreateFakeAgentDirectory()
        {
            if (OperatingSystem.IsWindows())
            {
                Assert.Inconclusive("the fake buildkite-agent is a shell script");
            }

            var dir = TestPaths.NewTempDirectory("ecrc-fake-agent");
            var script = Path.Combine(dir, "buildkite-agent");
            File.WriteAllText(script, FakeAgent);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            return dir;
        }

        private static BuildkiteMetaData WithFakeAgentFirstOnPath(string dir)
        {
            var metaData = new BuildkiteMetaData(ProcessRunner.Instance);
            metaData.Environment["PATH"] = dir + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");
            return metaData;
        }

        [TestMethod]
        public async Task SetPassesKeyAsArgumentAndValueOnStdin()
        {
            var dir = CreateFakeAgentDirectory();
            var metaData = WithFakeAgentFirstOnPath(dir);
            const string value = "123456789012.dkr.ecr.us-east-1.amazonaws.com/build-cache/app:0123abcd";

            await metaData.SetAsync("docker-image", value, CancellationToken.None);

            Assert.AreEqual("[meta-data]\n[set]\n[docker-image]\n", File.ReadAllText(Path.Combine(dir, "argv")));
            Assert.AreEqual(value, File.ReadAllText(Path.Combine(dir, "stdin")), "the value goes on stdin exactly, without a newline");
        }

        [TestMethod]
        public async Task ValueWithSpecialCharactersArrivesUnchanged()
        {
            var dir = CreateFakeAgentDirectory();
            const string value = "it's \"$(not run)\" `x` \\ ✓\nsecond line";

            await WithFakeAgentFirstOnPath(dir).SetAsync("key", value, CancellationToken.None);

            Assert.AreEqual(value, File.ReadAllText(Path.Combine(dir, "stdin")));
        }

        [TestMethod]
        public async Task KeyThatLooksLikeAnOptionComesAfterDoubleDash()
        {
            var dir = CreateFakeAgentDirectory();

            await WithFakeAgentFirstOnPath(dir).SetAsync("--debug", "v", CancellationToken.None);

            Assert.AreEqual("[meta-data]\n[set]\n[--]\n[--debug]\n", File.ReadAllText(Path.Combine(dir, "argv")));
        }

        [TestMethod]
        public async Task ExplicitAgentPathIsUsedAsIs()
        {
            var dir = CreateFakeAgentDirectory();
            var metaData = new BuildkiteMetaData(ProcessRunner.Instance, Path.Combine(dir, "buildkite-agent"));

            await metaData.SetAsync("k", "v", CancellationToken.None);

            Assert.AreEqual("v", File.ReadAllText(Path.Combine(dir, "stdin")));
        }

        [TestMethod]
        public async Task NonZeroExitIsMetaDataFailedWithStderr()
        {
            var dir = CreateFakeAgentDirectory();
            var metaData = WithFakeAgentFirstOnPath(dir);
            metaData.Environment["FAKE_AGENT_FAIL"] = "Failed to set meta-data: POST 401 Unauthorized";

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => metaData.SetAsync("docker-image", "repo:tag", CancellationToken.None));

            Assert.AreEqual("ECRC1403", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, "'buildkite-agent meta-data set docker-image' failed: exit code 3:");
            StringAssert.Contains(ex.Diagnostic.Message, "Failed to set meta-data: POST 401 Unauthorized");
        }

        [TestMethod]
        public async Task MissingAgentIsMetaDataFailedNotFoundOnPath()
        {
            if (ShellTestHelper.FindOnPath("buildkite-agent") != null)
            {
                Assert.Inconclusive("a real buildkite-agent is on PATH");
            }

            var metaData = new BuildkiteMetaData(ProcessRunner.Instance);
            metaData.Environment["PATH"] = TestPaths.NewTempDirectory("ecrc-empty-path");

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => metaData.SetAsync("docker-image", "repo:tag", CancellationToken.None));

            Assert.AreEqual("ECRC1403", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, "buildkite-agent was not found on PATH");
        }

        [TestMethod]
        public async Task MissingExplicitAgentPathSaysWhichPath()
        {
            var missing = Path.Combine(TestPaths.NewTempDirectory(), "no-agent-here");
            var metaData = new BuildkiteMetaData(ProcessRunner.Instance, missing);

            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => metaData.SetAsync("k", "v", CancellationToken.None));

            Assert.AreEqual("ECRC1403", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, "'" + missing + "' could not be started");
        }

        /// <summary>
        /// A fake agent that hangs like the real one does while it retries an unreachable Buildkite API: it records its
        /// own pid and that of a child it starts, then waits for the child.
        /// </summary>
        private const string HangingFakeAgent =
            "#!/bin/sh\n" +
            "out=\"$(dirname \"$0\")\"\n" +
            "sleep 300 &\n" +
            "echo $! > \"$out/child.pid\"\n" +
            "echo $$ > \"$out/agent.pid\"\n" +
            "wait\n";

        [TestMethod]
        public async Task HangingAgentIsKilledWithItsChildrenAfterTheTimeout()
        {
            var dir = CreateFakeAgentDirectory();
            var script = Path.Combine(dir, "buildkite-agent");
            File.WriteAllText(script, HangingFakeAgent);
            var metaData = new BuildkiteMetaData(ProcessRunner.Instance, script) { Timeout = TimeSpan.FromSeconds(1) };

            // The outer token only guards the test run; the metadata timeout must fire long before it.
            using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => metaData.SetAsync("docker-image", "repo:tag", guard.Token));

            Assert.IsFalse(guard.IsCancellationRequested, "the test guard fired, not the metadata timeout");
            Assert.AreEqual("ECRC1405", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Diagnostic.Message, "'buildkite-agent meta-data set docker-image' did not finish within 1 s");
            StringAssert.Contains(ex.Diagnostic.Message, "BUILDKITE_AGENT_ACCESS_TOKEN");
            StringAssert.Contains(ex.Diagnostic.Message, "BUILDKITE_JOB_ID");
            StringAssert.Contains(ex.Diagnostic.Message, "PATH");
            StringAssert.Contains(ex.Diagnostic.Message, "EcrCacheMetadataTimeout");
            AssertProcessGone(ReadPid(Path.Combine(dir, "agent.pid")), "the fake agent");
            AssertProcessGone(ReadPid(Path.Combine(dir, "child.pid")), "the fake agent's child");
        }

        [TestMethod]
        public async Task CancellationStaysCancellationNotATimeout()
        {
            var dir = CreateFakeAgentDirectory();
            var script = Path.Combine(dir, "buildkite-agent");
            File.WriteAllText(script, HangingFakeAgent);
            var metaData = new BuildkiteMetaData(ProcessRunner.Instance, script) { Timeout = TimeSpan.FromMinutes(2) };
            using var cts = new CancellationTokenSource();

            var run = metaData.SetAsync("k", "v", cts.Token);
            WaitForFile(Path.Combine(dir, "child.pid"));
            cts.Cancel();

            await Assert.ThrowsAsync<OperationCanceledException>(() => run);
            AssertProcessGone(ReadPid(Path.Combine(dir, "agent.pid")), "the fake agent");
            AssertProcessGone(ReadPid(Path.Combine(dir, "child.pid")), "the fake agent's child");
        }

        [TestMethod]
        public void DurationsAreShownInSecondsAndMinutes()
        {
            Assert.AreEqual("1 s", BuildkiteMetaData.DescribeDuration(TimeSpan.FromSeconds(1)));
            Assert.AreEqual("1 min", BuildkiteMetaData.DescribeDuration(TimeSpan.FromMinutes(1)));
            Assert.AreEqual("2 min 5 s", BuildkiteMetaData.DescribeDuration(TimeSpan.FromSeconds(125)));
        }

        private static void WaitForFile(string path)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!(File.Exists(path) && File.ReadAllText(path).Trim().Length > 0))
            {
                Assert.IsTrue(DateTime.UtcNow < deadline, path + " was never written");
                Thread.Sleep(50);
            }
        }

        private static int ReadPid(string path)
        {
            WaitForFile(path);
            return int.Parse(File.ReadAllText(path).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }

        /// <summary>
        /// Gone means no /proc entry, or a zombie (killed, waiting for whoever adopted it to reap it). A SIGKILL takes
        /// effect asynchronously, so this waits a little for it rather than asserting on the first look.
        /// </summary>
        private static void AssertProcessGone(int pid, string what)
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (true)
            {
                var state = ProcessState(pid);
                if (state == null || state == 'Z' || state == 'X')
                {
                    return;
                }

                if (DateTime.UtcNow > deadline)
                {
                    Assert.Fail(what + " (pid " + pid + ") is still running, state " + state);
                }

                Thread.Sleep(50);
            }
        }

        private static char? ProcessState(int pid)
        {
            try
            {
                // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces and parentheses, so split at the last ')'.
                var stat = File.ReadAllText("/proc/" + pid + "/stat");
                return stat[stat.LastIndexOf(')') + 2];
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return null;
            }
        }

        [TestMethod]
        public async Task EmptyKeyOrValueIsRejectedBeforeRunning()
        {
            var metaData = new BuildkiteMetaData(new ThrowingRunner());
            await Assert.ThrowsExactlyAsync<ArgumentException>(() => metaData.SetAsync(" ", "v", CancellationToken.None));
            await Assert.ThrowsExactlyAsync<ArgumentException>(() => metaData.SetAsync("k", " \n", CancellationToken.None));
        }

        private sealed class ThrowingRunner : IProcessRunner
        {
            public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken) =>
                throw new AssertFailedException("nothing should run");
        }
    }
}
