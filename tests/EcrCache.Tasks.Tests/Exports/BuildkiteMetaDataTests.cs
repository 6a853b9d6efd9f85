using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Exports;

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
