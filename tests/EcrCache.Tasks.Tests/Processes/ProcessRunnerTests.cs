using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using EcrCache.Docker;
using EcrCache.Processes;

namespace EcrCache.Tasks.Tests.Processes
{
    /// <summary>The real <see cref="ProcessRunner"/> against real processes (/bin/sh).</summary>
    [TestClass]
    public sealed class ProcessRunnerTests
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

        private static ProcessSpec Sh(string script) => new ProcessSpec(Shell, new[] { "-c", script });

        private static Task<ProcessResult> Run(ProcessSpec spec, CancellationToken cancellationToken = default) =>
            ProcessRunner.Instance.RunAsync(spec, cancellationToken);

        [TestMethod]
        public async Task StreamsLinesInOrder_AndCapturesBothStreams()
        {
            var outLines = new List<string>();
            var errLines = new List<string>();
            var spec = Sh("i=1; while [ $i -le 200 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done");
            spec.OnStandardOutput = line =>
            {
                lock (outLines)
                {
                    outLines.Add(line);
                }
            };
            spec.OnStandardError = line =>
            {
                lock (errLines)
                {
                    errLines.Add(line);
                }
            };
            var result = await Run(spec);
            Assert.AreEqual(0, result.ExitCode);
            var expectedOut = Enumerable.Range(1, 200).Select(i => "out" + i).ToList();
            var expectedErr = Enumerable.Range(1, 200).Select(i => "err" + i).ToList();
            CollectionAssert.AreEqual(expectedOut, outLines);
            CollectionAssert.AreEqual(expectedErr, errLines);
            Assert.AreEqual(string.Join("\n", expectedOut) + "\n", result.StandardOutput);
            Assert.AreEqual(string.Join("\n", expectedErr) + "\n", result.StandardError);
        }

        [TestMethod]
        public async Task LinesArriveWhileTheProcessRuns()
        {
            var first = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            var spec = Sh("echo early; sleep 2; echo late");
            spec.OnStandardOutput = line => first.TrySetResult(line);
            var watch = Stopwatch.StartNew();
            var run = Run(spec);
            var line = await first.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.AreEqual("early", line);
            Assert.IsTrue(watch.Elapsed < TimeSpan.FromSeconds(1.8), "the first line was streamed before the process ended");
            Assert.IsFalse(run.IsCompleted);
            var result = await run;
            Assert.AreEqual("early\nlate\n", result.StandardOutput);
        }

        [TestMethod]
        public async Task WithoutCapture_OnlyCallbacksSeeTheOutput()
        {
            var lines = new List<string>();
            var spec = Sh("echo a; echo b >&2");
            spec.CaptureOutput = false;
            spec.OnStandardOutput = line => lines.Add(line);
            var result = await Run(spec);
            CollectionAssert.AreEqual(new[] { "a" }, lines);
            Assert.AreEqual("", result.StandardOutput);
            Assert.AreEqual("", result.StandardError);
        }

        [TestMethod]
        [DataRow(0)]
        [DataRow(1)]
        [DataRow(7)]
        [DataRow(255)]
        public async Task ReturnsTheExitCode(int code)
        {
            Assert.AreEqual(code, (await Run(Sh("exit " + code))).ExitCode);
        }

        [TestMethod]
        public async Task KilledBySignal_IsANonZeroExitCode()
        {
            var result = await Run(Sh("kill -TERM $$"));
            Assert.AreNotEqual(0, result.ExitCode);
        }

        [TestMethod]
        public async Task StandardInput_IsWrittenThenClosed()
        {
            var spec = new ProcessSpec("/bin/cat", Array.Empty<string>()) { StandardInput = "hello\nwörld" };
            var result = await Run(spec);
            Assert.AreEqual(0, result.ExitCode);
            Assert.AreEqual("hello\nwörld\n", result.StandardOutput);
        }

        [TestMethod]
        public async Task LargeStandardInput_DoesNotDeadlock()
        {
            var text = new StringBuilder();
            for (var i = 0; i < 40000; i++)
            {
                text.Append("line ").Append(i).Append('\n');
            }

            var spec = new ProcessSpec("/bin/cat", Array.Empty<string>()) { StandardInput = text.ToString(), CaptureOutput = true };
            var result = await Run(spec).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.AreEqual(text.ToString(), result.StandardOutput);
        }

        [TestMethod]
        public async Task NoStandardInput_ChildSeesEndOfFile()
        {
            var spec = new ProcessSpec("/bin/cat", Array.Empty<string>());
            var result = await Run(spec).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.AreEqual(0, result.ExitCode);
            Assert.AreEqual("", result.StandardOutput);
        }

        [TestMethod]
        public async Task ChildThatIgnoresItsInput_IsNotAnError()
        {
            var spec = Sh("exit 3");
            spec.StandardInput = new string('x', 1 << 20);
            var result = await Run(spec).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.AreEqual(3, result.ExitCode);
        }

        [TestMethod]
        public async Task Environment_SetsOverridesAndRemovesVariables()
        {
            var inherited = "ECRC_TEST_INHERITED_" + Guid.NewGuid().ToString("N").Substring(0, 8);
            var removed = "ECRC_TEST_REMOVED_" + Guid.NewGuid().ToString("N").Substring(0, 8);
            System.Environment.SetEnvironmentVariable(inherited, "from-parent");
            System.Environment.SetEnvironmentVariable(removed, "from-parent");
            try
            {
                var spec = Sh($"echo \"new=$ECRC_TEST_NEW\"; echo \"inherited=${inherited}\"; echo \"removed=${{{removed}-unset}}\"; echo \"empty=[${{ECRC_TEST_EMPTY-unset}}]\"; echo \"spaces=$ECRC_TEST_SPACES\"");
                spec.Environment["ECRC_TEST_NEW"] = "v1";
                spec.Environment[removed] = null;
                spec.Environment["ECRC_TEST_EMPTY"] = "";
                spec.Environment["ECRC_TEST_SPACES"] = "a 'b' \"c\" $d";
                var result = await Run(spec);
                CollectionAssert.AreEqual(
                    new[] { "new=v1", "inherited=from-parent", "removed=unset", "empty=[]", "spaces=a 'b' \"c\" $d" },
                    result.StandardOutput.TrimEnd('\n').Split('\n'));
                Assert.AreEqual("from-parent", System.Environment.GetEnvironmentVariable(removed), "the parent's environment is untouched");
            }
            finally
            {
                System.Environment.SetEnvironmentVariable(inherited, null);
                System.Environment.SetEnvironmentVariable(removed, null);
            }
        }

        [TestMethod]
        public async Task Arguments_AreNotInterpretedByAShell()
        {
            var spec = new ProcessSpec("/usr/bin/printf", new[] { "%s|", "a b", "$HOME", "'q'", "\"d\"", "*", "" });
            var result = await Run(spec);
            Assert.AreEqual("a b|$HOME|'q'|\"d\"|*||", result.StandardOutput.TrimEnd('\n'));
        }

        [TestMethod]
        public async Task WorkingDirectory_IsUsed()
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-runner");
            try
            {
                var spec = Sh("pwd -P");
                spec.WorkingDirectory = dir;
                var result = await Run(spec);
                Assert.AreEqual(new DirectoryInfo(dir).FullName, result.StandardOutput.Trim());
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [TestMethod]
        public async Task MissingExecutable_ProcessStartException()
        {
            var ex = await Assert.ThrowsExactlyAsync<ProcessStartException>(() => Run(new ProcessSpec("/nonexistent/ecrcache-docker", new[] { "version" })));
            Assert.AreEqual("/nonexistent/ecrcache-docker", ex.FileName);
            StringAssert.Contains(ex.Message, "/nonexistent/ecrcache-docker");
            Assert.IsInstanceOfType<System.ComponentModel.Win32Exception>(ex.InnerException);
            Assert.IsFalse(ex.Message.Contains("inner exception"), "the OS error is named, not CliWrap's wrapper: " + ex.Message);
        }

        [TestMethod]
        public async Task MissingExecutableOnPath_ProcessStartException()
        {
            await Assert.ThrowsExactlyAsync<ProcessStartException>(() => Run(new ProcessSpec("ecrcache-no-such-tool-" + Guid.NewGuid().ToString("N"), Array.Empty<string>())));
        }

        [TestMethod]
        public async Task NotExecutable_ProcessStartException()
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-runner");
            try
            {
                var file = Path.Combine(dir, "not-executable");
                File.WriteAllText(file, "#!/bin/sh\necho hi\n");
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                await Assert.ThrowsExactlyAsync<ProcessStartException>(() => Run(new ProcessSpec(file, Array.Empty<string>())));
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [TestMethod]
        public async Task AlreadyCancelled_DoesNotStart()
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-runner");
            try
            {
                using var cts = new CancellationTokenSource();
                cts.Cancel();
                var marker = Path.Combine(dir, "ran");
                await Assert.ThrowsAsync<OperationCanceledException>(() => Run(Sh("touch '" + marker + "'"), cts.Token));
                await Task.Delay(200);
                Assert.IsFalse(File.Exists(marker));
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [TestMethod]
        [Timeout(60000, CooperativeCancellation = true)]
        public async Task Cancellation_KillsTheChildAndItsGrandchild()
        {
            var dir = TestPaths.NewTempDirectory("ecrcache-runner");
            try
            {
                var childPidFile = Path.Combine(dir, "child.pid");
                var grandchildPidFile = Path.Combine(dir, "grandchild.pid");
                var started = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                var spec = Sh($"echo $$ > '{childPidFile}'; sleep 300 & echo $! > '{grandchildPidFile}'; echo started; wait");
                spec.OnStandardOutput = line =>
                {
                    if (line == "started")
                    {
                        started.TrySetResult(true);
                    }
                };

                using var cts = new CancellationTokenSource();
                var run = Run(spec, cts.Token);
                await started.Task.WaitAsync(TimeSpan.FromSeconds(20));
                var child = int.Parse(File.ReadAllText(childPidFile).Trim());
                var grandchild = int.Parse(File.ReadAllText(grandchildPidFile).Trim());
                Assert.IsTrue(IsAlive(child) && IsAlive(grandchild), "both processes run before the cancellation");

                var watch = Stopwatch.StartNew();
                cts.Cancel();
                await Assert.ThrowsAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(20)));
                Assert.IsTrue(watch.Elapsed < TimeSpan.FromSeconds(10), "cancellation returned promptly, took " + watch.Elapsed);

                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
                while ((IsAlive(child) || IsAlive(grandchild)) && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(100);
                }

                Assert.IsFalse(IsAlive(child), $"the child {child} survived the cancellation");
                Assert.IsFalse(IsAlive(grandchild), $"the grandchild {grandchild} (sleep 300) survived the cancellation");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        /// <summary>Alive = has a /proc entry that is not a zombie (an orphan's zombie may wait for a non-reaping PID 1).</summary>
        internal static bool IsAlive(int pid)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var state = stat.Substring(stat.LastIndexOf(')') + 2, 1);
                return state != "Z" && state != "X";
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return false;
            }
        }
    }
}
