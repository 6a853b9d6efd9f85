using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Tasks.Tests.Core;

namespace EcrCache.Tasks.Tests.Docker
{
    /// <summary>The plain-progress parser, the Dockerfile step locator and the failure they make, on recorded output.</summary>
    [TestClass]
    public sealed class BuildKitProgressTests
    {
        /// <summary>The Dockerfile of <see cref="FailingMultiStage"/>.</summary>
        internal const string FailingDockerfile =
            "FROM 127.0.0.1:38435/ecrcache/busybox:1 AS deps\n"
            + "RUN echo \"installing deps $RANDOM\" && sleep 1\n"
            + "FROM deps AS final\n"
            + "COPY a.txt /a.txt\n"
            + "RUN echo \"line one\" && \\\n"
            + "    echo \"npm ERR! something broke\" >&2 && exit 3\n";

        /// <summary>Recorded from Debian 12's docker.io 20.10 (DOCKER_BUILDKIT=1 docker build --progress=plain), stderr.</summary>
        internal const string FailingMultiStage =
            "#1 [internal] load build definition from Dockerfile\n"
            + "#1 sha256:79b19e9d6e075a20efc2e0b461dab87208f3c7add2e2e33fd2e78fc35e5961b5\n"
            + "#1 transferring dockerfile: 245B done\n"
            + "#1 DONE 0.0s\n"
            + "\n"
            + "#2 [internal] load .dockerignore\n"
            + "#2 sha256:a36e90680c1948ff70a5ee5ced3423a4e7fa39b603ee9ddd6947a8f2fd1dd41b\n"
            + "#2 transferring context: 2B done\n"
            + "#2 DONE 0.0s\n"
            + "\n"
            + "#3 [internal] load metadata for 127.0.0.1:38435/ecrcache/busybox:1\n"
            + "#3 sha256:f52f063a512ddc29a8d7f1dc9d296f8ef437f585e4c37ab7216f6099e92c70d4\n"
            + "#3 DONE 0.0s\n"
            + "\n"
            + "#4 [deps 1/2] FROM 127.0.0.1:38435/ecrcache/busybox:1\n"
            + "#4 sha256:555265d30e385ad130ba3e7472849b64b71ab9b37ec063d16ed364f81e440631\n"
            + "#4 CACHED\n"
            + "\n"
            + "#6 [internal] load build context\n"
            + "#6 sha256:f812607512c7ccd64ccadeb49115e7e09a9c139c052b4f8b367533f3182c8f03\n"
            + "#6 transferring context: 35B done\n"
            + "#6 DONE 0.0s\n"
            + "\n"
            + "#5 [deps 2/2] RUN echo \"installing deps $RANDOM\" && sleep 1\n"
            + "#5 sha256:62737ade6d9ce9a371c50a804e46e46d622b62af79d42dc7667e5035c19d29e9\n"
            + "#5 0.240 installing deps 24719\n"
            + "#5 DONE 1.3s\n"
            + "\n"
            + "#7 [final 1/2] COPY a.txt /a.txt\n"
            + "#7 sha256:5e4ee067408543a7464506d32caae196048ecfc58d6901bbe45184928e1deacd\n"
            + "#7 DONE 0.0s\n"
            + "\n"
            + "#8 [final 2/2] RUN echo \"line one\" &&     echo \"npm ERR! something broke\" >&2 && exit 3\n"
            + "#8 sha256:6ad175a0d1899a6ac2a6031affd8a12ca28b8ae5e264fa9e92056f55afd84bd3\n"
            + "#8 0.168 line one\n"
            + "#8 0.168 npm ERR! something broke\n"
            + "#8 ERROR: executor failed running [/bin/sh -c echo \"line one\" &&     echo \"npm ERR! something broke\" >&2 && exit 3]: exit code: 3\n"
            + "------\n"
            + " > [final 2/2] RUN echo \"line one\" &&     echo \"npm ERR! something broke\" >&2 && exit 3:\n"
            + "------\n"
            + "executor failed running [/bin/sh -c echo \"line one\" &&     echo \"npm ERR! something broke\" >&2 && exit 3]: exit code: 3\n";

        private static (BuildKitProgress Progress, List<string> Lines) Feed(string output, Func<TimeSpan>? clock = null)
        {
            var lines = new List<string>();
            var progress = new BuildKitProgress(lines.Add, clock ?? (() => TimeSpan.Zero));
            foreach (var line in output.Split('\n'))
            {
                progress.OnLine(line);
            }

            return (progress, lines);
        }

        [TestMethod]
        public void StepsGetOneLineEach_WhenTheyEndWithinASecond()
        {
            var (progress, lines) = Feed(FailingMultiStage);
            CollectionAssert.AreEqual(
                new[]
                {
                    "[deps 1/2] FROM 127.0.0.1:38435/ecrcache/busybox:1: cached",
                    "[deps 2/2] RUN echo \"installing deps $RANDOM\" && sleep 1",
                    "[deps 2/2] RUN echo \"installing deps $RANDOM\" && sleep 1: done in 1.3 s",
                    "[final 1/2] COPY a.txt /a.txt: done in 0.0 s",
                    "[final 2/2] RUN echo \"line one\" && echo \"npm ERR! something broke\" >&2 && exit 3",
                    "[final 2/2] RUN echo \"line one\" && echo \"npm ERR! something broke\" >&2 && exit 3: failed",
                },
                lines,
                string.Join("\n", lines));
            Assert.IsNotNull(progress.Failure);
            Assert.AreEqual(3, progress.Failure!.ExitCode);
            Assert.AreEqual("final", progress.Failure.Step.Stage);
            Assert.AreEqual(2, progress.Failure.Step.Index);
            CollectionAssert.AreEqual(new[] { "line one", "npm ERR! something broke" }, progress.Failure.Output.ToList());
        }

        [TestMethod]
        public void ASilentStepIsReportedAfterASecond_AndItsEndWithTheDuration()
        {
            var now = TimeSpan.Zero;
            var lines = new List<string>();
            var progress = new BuildKitProgress(lines.Add, () => now);
            progress.OnLine("#5 [2/3] RUN npm ci");
            progress.OnLine("#5 sha256:62737ade6d9ce9a371c50a804e46e46d622b62af79d42dc7667e5035c19d29e9");
            progress.Tick();
            Assert.AreEqual(0, lines.Count, "not yet: it may be cached");
            now = TimeSpan.FromSeconds(1.5);
            progress.Tick();
            progress.Tick();
            CollectionAssert.AreEqual(new[] { "[2/3] RUN npm ci" }, lines);
            progress.OnLine("#5 DONE 35.2s");
            CollectionAssert.AreEqual(new[] { "[2/3] RUN npm ci", "[2/3] RUN npm ci: done in 35.2 s" }, lines);
        }

        [TestMethod]
        public void PaddedIndexesStageNamesAndRepeatedHeaders()
        {
            // Recorded (20.10): an 11-step stage pads the index; a vertex's name is printed again when lines of
            // another vertex came between; the names of unnamed stages are stage-K.
            var (_, lines) = Feed(
                "#9 [second  2/11] COPY a.txt .\n#9 DONE 0.0s\n#10 [second  3/11] RUN echo two 2\n#6 [stage-0 3/3] RUN echo one\n"
                + "#6 DONE 0.3s\n#10 [second  3/11] RUN echo two 2\n#10 DONE 0.4s\n#20 exporting to image\n#20 DONE 0.0s\n");
            CollectionAssert.AreEqual(
                new[]
                {
                    "[second 2/11] COPY a.txt .: done in 0.0 s",
                    "[second 3/11] RUN echo two 2",
                    "[stage-0 3/3] RUN echo one: done in 0.3 s",
                    "[second 3/11] RUN echo two 2: done in 0.4 s",
                },
                lines,
                string.Join("\n", lines));
        }

        [TestMethod]
        [DataRow("[2/3] RUN npm ci", null, 2, 3)]
        [DataRow("[build  3/12] COPY . .", "build", 3, 12)]
        [DataRow("[linux/arm64 stage-1 1/2] FROM docker.io/library/node:20", "stage-1", 1, 2)]
        public void StepNames(string name, string? stage, int index, int total)
        {
            var step = BuildKitStep.Parse(name)!;
            Assert.AreEqual(stage, step.Stage);
            Assert.AreEqual(index, step.Index);
            Assert.AreEqual(total, step.Total);
        }

        [TestMethod]
        [DataRow("[internal] load build definition from Dockerfile")]
        [DataRow("exporting to image")]
        [DataRow("[auth] library/node:pull token for registry-1.docker.io")]
        [DataRow("importing cache manifest from r/app:latest")]
        public void BuildKitsOwnVerticesAreNoSteps(string name) => Assert.IsNull(BuildKitStep.Parse(name));

        [TestMethod]
        public void NewerBuildKitNamesTheDockerfileLine()
        {
            // docker buildx 0.10+ ends a failure with the Dockerfile excerpt.
            var (progress, _) = Feed(
                "#8 [2/2] RUN exit 3\n#8 0.211 oops\n#8 ERROR: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3\n"
                + "------\n > [2/2] RUN exit 3:\n0.211 oops\n------\nDockerfile:7\n--------------------\n   7 | >>> RUN exit 3\n"
                + "--------------------\nERROR: failed to solve: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3\n");
            Assert.AreEqual(7, progress.ReportedLine);
            Assert.AreEqual(3, progress.Failure!.ExitCode);
        }

        [TestMethod]
        public void KeepsTheLast100LinesOfAStep()
        {
            var output = "#5 [2/2] RUN make\n" + string.Concat(Enumerable.Range(1, 250).Select(i => "#5 0." + i.ToString("000") + " line " + i + "\n")) + "#5 ERROR: executor failed running [/bin/sh -c make]: exit code: 2\n";
            var (progress, _) = Feed(output);
            Assert.AreEqual(BuildKitProgress.KeptLines, progress.Failure!.Output.Count);
            Assert.AreEqual("line 151", progress.Failure.Output[0]);
            Assert.AreEqual("line 250", progress.Failure.Output[99]);
        }

        // ---------------------------------------------------------------- Dockerfile locations

        [TestMethod]
        public void FindsTheInstructionOfAStep_MultiStage()
        {
            var step = BuildKitStep.Parse("[final 2/2] RUN echo \"line one\" &&     echo \"npm ERR! something broke\" >&2 && exit 3")!;
            var instruction = DockerfileSteps.Find(FailingDockerfile, "/p/Dockerfile", step)!;
            Assert.AreEqual(5, instruction.Line);
            Assert.AreEqual(1, instruction.Column);
            Assert.AreEqual(2, DockerfileSteps.Find(FailingDockerfile, "/p/Dockerfile", BuildKitStep.Parse("[deps 2/2] RUN echo x")!)!.Line);
        }

        [TestMethod]
        public void FindsTheInstructionOfAStep_UnnamedStagesScratchAndUncountedInstructions()
        {
            // The Dockerfile of PaddedIndexesStageNamesAndRepeatedHeaders: ENV, LABEL, ARG, USER and CMD make no step.
            var text = "ARG X=1\nFROM busybox\nENV A=1\nWORKDIR /w\nRUN echo one\nFROM busybox AS Second\nLABEL a=b\nARG Y=2\nUSER root\n"
                + "COPY a.txt .\nRUN echo two $Y\nRUN echo 3\n# a comment\nRUN echo 4 \\\n  && echo 5\nCMD [\"sh\"]\nFROM scratch\nCOPY --from=0 /w /w\n"
                + "COPY --from=second /a.txt /a.txt\n";
            Assert.AreEqual(4, DockerfileSteps.Find(text, "D", BuildKitStep.Parse("[stage-0 2/3] WORKDIR /w")!)!.Line);
            Assert.AreEqual(5, DockerfileSteps.Find(text, "D", BuildKitStep.Parse("[stage-0 3/3] RUN echo one")!)!.Line);
            Assert.AreEqual(11, DockerfileSteps.Find(text, "D", BuildKitStep.Parse("[second  3/5] RUN echo two 2")!)!.Line);
            Assert.AreEqual(14, DockerfileSteps.Find(text, "D", BuildKitStep.Parse("[second  5/5] RUN echo 4 && echo 5")!)!.Line);
            Assert.AreEqual(19, DockerfileSteps.Find(text, "D", BuildKitStep.Parse("[stage-2 2/2] COPY --from=second /a.txt /a.txt")!)!.Line);
        }

        [TestMethod]
        public void NoLocationWhenTheStepDoesNotMatchTheDockerfile()
        {
            Assert.IsNull(DockerfileSteps.Find("FROM busybox\nRUN a\n", "D", BuildKitStep.Parse("[2/2] COPY a b")!), "another keyword");
            Assert.IsNull(DockerfileSteps.Find("FROM busybox\nRUN a\n", "D", BuildKitStep.Parse("[3/3] RUN b")!), "no third step");
            Assert.IsNull(DockerfileSteps.Find("FROM busybox\nRUN a\n", "D", BuildKitStep.Parse("[nope 2/2] RUN a")!), "no such stage");
        }

        // ---------------------------------------------------------------- the failure, through DockerCli

        [TestMethod]
        public async Task AFailedStepShowsItsOutputAndIsAnErrorAtItsDockerfileLine()
        {
            var dir = Path.Combine(Path.GetTempPath(), "ecrc-progress-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            try
            {
                var dockerfile = Path.Combine(dir, "Dockerfile");
                File.WriteAllText(dockerfile, FailingDockerfile);
                var runner = new FakeProcessRunner().On("build", 1, "", FailingMultiStage);
                var log = new CapturingBuildLog();
                var request = new DockerBuildRequest { ContextDirectory = dir, DockerfilePath = dockerfile };
                request.Tags.Add("build-cache/app:abc");
                var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => new DockerCli("docker", runner, log).BuildAsync(request, BuilderMode.BuildKitBuiltIn, CancellationToken.None));
                Assert.AreEqual("ECRC1204", ex.Diagnostic.Code);
                Assert.AreEqual(dockerfile, ex.Diagnostic.File);
                Assert.AreEqual(5, ex.Diagnostic.Line);
                Assert.AreEqual(1, ex.Diagnostic.Column);
                StringAssert.StartsWith(ex.Diagnostic.Message, "RUN echo \"line one\" && echo \"npm ERR! something broke\" >&2 && exit 3 failed with exit code 3 (last output: line one / npm ERR! something broke).");
                Assert.AreEqual(0, log.ToolErrors.Count, "the located error replaces docker's error lines: " + log.AllText);
                var important = log.Lines.Where(l => l.StartsWith("important: ", StringComparison.Ordinal)).ToList();
                CollectionAssert.IsSubsetOf(new[] { "important:   line one", "important:   npm ERR! something broke" }, important, log.AllText);
                Assert.IsTrue(important.Any(l => l.Contains("[final 2/2] RUN", StringComparison.Ordinal) && l.EndsWith(": failed", StringComparison.Ordinal)), log.AllText);
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [TestMethod]
        public async Task TheLegacyBuildersFailedStep_ItsOutputAndItsLine()
        {
            // Recorded from docker 28.2 without buildx (DOCKER_BUILDKIT=0): stdout, then stderr; the count changed from
            // 4 to 5 as one --label makes it (an extra LABEL step at the end).
            const string stdout = "Sending build context to Docker daemon  41.98kB\nStep 1/5 : ARG BASE=127.0.0.1:38435/ecrcache/busybox:1\n"
                + "Step 2/5 : FROM ${BASE}\n ---> 86af1f45de12\nStep 3/5 : ENV A=1\n ---> Running in 67eff4f3a0cd\n"
                + "Removing intermediate container 67eff4f3a0cd\n ---> 3517d981ec2c\n"
                + "Step 4/5 : RUN echo \"legacy line one\" &&     echo \"legacy oops\" >&2 && exit 3\n ---> Running in 2f7de9a3a195\n"
                + "\u001b[91mlegacy oops\n\u001b[0mlegacy line one\n";
            const string stderr = "DEPRECATED: The legacy builder is deprecated and will be removed in a future release.\n\n"
                + "The command '/bin/sh -c echo \"legacy line one\" &&     echo \"legacy oops\" >&2 && exit 3' returned a non-zero code: 3\n";
            var dir = Path.Combine(Path.GetTempPath(), "ecrc-legacy-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            try
            {
                var dockerfile = Path.Combine(dir, "Dockerfile");
                File.WriteAllText(dockerfile, "ARG BASE=busybox\nFROM ${BASE}\nENV A=1\n\n# the step\nRUN echo \"legacy line one\" && \\\n    echo \"legacy oops\" >&2 && exit 3\n");
                var log = new CapturingBuildLog();
                var request = new DockerBuildRequest { ContextDirectory = dir, DockerfilePath = dockerfile };
                var runner = new FakeProcessRunner().On("build", 3, stdout, stderr);
                var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => new DockerCli("docker", runner, log).BuildAsync(request, BuilderMode.Legacy, CancellationToken.None));
                Assert.AreEqual(dockerfile, ex.Diagnostic.File);
                Assert.AreEqual(6, ex.Diagnostic.Line);
                StringAssert.StartsWith(ex.Diagnostic.Message, "RUN echo \"legacy line one\" && echo \"legacy oops\" >&2 && exit 3 failed with exit code 3 (last output:");
                CollectionAssert.IsSubsetOf(new[] { "important: EcrCache: Step 4/5 : RUN echo \"legacy line one\" &&     echo \"legacy oops\" >&2 && exit 3", "important:   legacy oops", "important:   legacy line one" }, log.Lines.ToList(), log.AllText);
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [TestMethod]
        public async Task QuietShowsNoStepLines_FullShowsEveryLine()
        {
            var request = new DockerBuildRequest { ContextDirectory = "/nowhere", DockerfileText = "FROM busybox\nRUN x\n" };
            foreach (var (mode, expectSteps, expectRaw) in new[] { (ProgressMode.Quiet, false, false), (ProgressMode.Full, false, true), (ProgressMode.Steps, true, false) })
            {
                var log = new CapturingBuildLog();
                var runner = new FakeProcessRunner().On("build", 0, "", "#5 [2/2] RUN x\n#5 0.1 hello\n#5 DONE 0.2s\n");
                await new DockerCli("docker", runner, log) { Progress = mode }.BuildAsync(request, BuilderMode.BuildKitBuiltIn, CancellationToken.None);
                Assert.AreEqual(expectSteps, log.Lines.Contains("important: EcrCache: [2/2] RUN x: done in 0.2 s"), mode + ": " + log.AllText);
                Assert.AreEqual(expectRaw, log.Lines.Contains("important: #5 0.1 hello"), mode + ": " + log.AllText);
            }
        }

        [TestMethod]
        public async Task BuildkiteLogGroups_OpenBeforeDockersOutput_ExpandOnFailure_AndCanBeTurnedOff()
        {
            var request = new DockerBuildRequest { ContextDirectory = "/nowhere", DockerfileText = "FROM busybox\nRUN x\n" };
            request.Tags.Add("build-cache/app:abc");
            foreach (var (enabled, buildkite, exit, expected) in new[]
            {
                (true, "true", 0, new[] { "--- :docker: EcrCache: building build-cache/app:abc" }),
                (true, "true", 1, new[] { "--- :docker: EcrCache: building build-cache/app:abc", "^^^ +++" }),
                (false, "true", 1, new string[0]),
                (true, (string?)null, 1, new string[0]),
            })
            {
                var markers = new List<string>();
                var runner = new FakeProcessRunner().On("build", exit, "", "#5 [2/2] RUN x\n#5 ERROR: executor failed running [/bin/sh -c x]: exit code: 1\n");
                var cli = new DockerCli("docker", runner, new CapturingBuildLog())
                {
                    BuildkiteLogGroups = enabled,
                    DaemonEnvironment = name => name == "BUILDKITE" ? buildkite : null,
                    WriteMarker = markers.Add,
                };
                try
                {
                    await cli.BuildAsync(request, BuilderMode.BuildKitBuiltIn, CancellationToken.None);
                }
                catch (EcrCacheException)
                {
                    Assert.AreEqual(1, exit);
                }

                CollectionAssert.AreEqual(expected, markers, $"enabled={enabled} BUILDKITE={buildkite} exit={exit}");
            }
        }

        // ---------------------------------------------------------------- push and pull

        [TestMethod]
        public void TransferProgress_AtMostEvery10Seconds_WithTheLayersDone()
        {
            var now = TimeSpan.Zero;
            var lines = new List<string>();
            using var progress = new TransferProgress("pushing r/app:abc", lines.Add, () => now, startTimer: false);
            // Recorded from docker 20.10's push, not on a terminal.
            progress.OnLine("The push refers to repository [127.0.0.1:38435/p19/push]");
            progress.OnLine("b1111c656192: Preparing");
            progress.OnLine("f86e8059646e: Preparing");
            now = TimeSpan.FromSeconds(4);
            progress.OnLine("f86e8059646e: Mounted from it/misspushesthenhitlocalthenpull-080002f4");
            progress.Tick();
            Assert.AreEqual(0, lines.Count);
            now = TimeSpan.FromSeconds(10.2);
            progress.Tick();
            progress.Tick();
            CollectionAssert.AreEqual(new[] { "EcrCache: pushing r/app:abc: 1 of 2 layers done after 10 s" }, lines);
            now = TimeSpan.FromSeconds(21);
            progress.OnLine("b1111c656192: Pushed");
            Assert.AreEqual("EcrCache: pushing r/app:abc: 2 of 2 layers done after 21 s", lines.Last());
        }

        [TestMethod]
        public async Task Pull_Failure_NamesTheRegistrysMessage()
        {
            var runner = new FakeProcessRunner().On("pull", 1, "", "Error response from daemon: manifest for r/app:abc not found: manifest unknown: manifest unknown\n");
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => new DockerCli("docker", runner, new CapturingBuildLog()).PullAsync("r/app:abc", CancellationToken.None));
            Assert.AreEqual("ECRC1206", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "manifest unknown");
        }

        [TestMethod]
        [DataRow(null, "Steps")]
        [DataRow("", "Steps")]
        [DataRow(" Steps ", "Steps")]
        [DataRow("quiet", "Quiet")]
        [DataRow("FULL", "Full")]
        public void ProgressOption(string? value, string expected) => Assert.AreEqual(expected, EcrCache.Options.OutputOptions.ParseProgress(value).ToString());

        [TestMethod]
        public void ProgressOption_Invalid_ECRC1240()
        {
            var ex = Assert.ThrowsExactly<EcrCacheException>(() => EcrCache.Options.OutputOptions.ParseProgress("verbose"));
            Assert.AreEqual("ECRC1240", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "'verbose'");
        }
    }
}
