using System;
using System.ComponentModel;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Processes;
using EcrCache.Tasks.Tests.Core;

namespace EcrCache.Tasks.Tests.Docker
{
    [TestClass]
    public sealed class DockerCliTests
    {
        /// <summary>Captured from Debian 12's docker.io 20.10 with a running daemon: <c>docker version --format '{{json .}}'</c>.</summary>
        internal const string RealVersionJson =
            "{\"Client\":{\"Platform\":{\"Name\":\"\"},\"Version\":\"20.10.24+dfsg1\",\"ApiVersion\":\"1.41\",\"DefaultAPIVersion\":\"1.41\",\"GitCommit\":\"297e128\",\"GoVersion\":\"go1.19.8\",\"Os\":\"linux\",\"Arch\":\"amd64\",\"BuildTime\":\"Thu May  7 21:09:36 2026\",\"Context\":\"default\",\"Experimental\":true},"
            + "\"Server\":{\"Platform\":{\"Name\":\"\"},\"Components\":[{\"Name\":\"Engine\",\"Version\":\"20.10.24+dfsg1\",\"Details\":{\"ApiVersion\":\"1.41\",\"Arch\":\"amd64\",\"BuildTime\":\"Thu May  7 21:09:36 2026\",\"Experimental\":\"false\",\"GitCommit\":\"5d6db84\",\"GoVersion\":\"go1.19.8\",\"KernelVersion\":\"6.18.44-fc-v657\",\"MinAPIVersion\":\"1.12\",\"Os\":\"linux\"}},{\"Name\":\"containerd\",\"Version\":\"1.6.20~ds1\",\"Details\":{\"GitCommit\":\"1.6.20~ds1-1+deb12u3\"}},{\"Name\":\"runc\",\"Version\":\"1.1.5+ds1\",\"Details\":{\"GitCommit\":\"1.1.5+ds1-1+deb12u1\"}},{\"Name\":\"docker-init\",\"Version\":\"0.19.0\",\"Details\":{\"GitCommit\":\"\"}}],\"Version\":\"20.10.24+dfsg1\",\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\",\"GitCommit\":\"5d6db84\",\"GoVersion\":\"go1.19.8\",\"Os\":\"linux\",\"Arch\":\"amd64\",\"KernelVersion\":\"6.18.44-fc-v657\",\"BuildTime\":\"2026-05-07T21:09:36.000000000+00:00\"}}\n";

        /// <summary>The same client with DOCKER_HOST pointing at a socket nobody listens on (exit code 1).</summary>
        internal const string RealDaemonDownJson =
            "{\"Client\":{\"Platform\":{\"Name\":\"\"},\"Version\":\"20.10.24+dfsg1\",\"ApiVersion\":\"1.41\",\"DefaultAPIVersion\":\"1.41\",\"GitCommit\":\"297e128\",\"GoVersion\":\"go1.19.8\",\"Os\":\"linux\",\"Arch\":\"amd64\",\"BuildTime\":\"Thu May  7 21:09:36 2026\",\"Context\":\"default\",\"Experimental\":true},\"Server\":null}\n";

        internal const string DaemonDownStderr = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n";

        private const string Canary = "CANARY-val-93c1";

        private static DockerCli NewCli(FakeProcessRunner runner, CapturingBuildLog? log = null, string executable = "/usr/bin/docker") =>
            new DockerCli(executable, runner, log ?? new CapturingBuildLog());

        private static DockerVersionInfo Version(string client) => new DockerVersionInfo(client, client, "linux", "amd64");

        // ---------------------------------------------------------------- version

        [TestMethod]
        public async Task GetVersion_ParsesRealOutput()
        {
            var runner = new FakeProcessRunner().On("version", 0, RealVersionJson);
            var version = await NewCli(runner).GetVersionAsync(CancellationToken.None);
            Assert.AreEqual("20.10.24+dfsg1", version.ClientVersion);
            Assert.AreEqual("20.10.24+dfsg1", version.ServerVersion);
            Assert.AreEqual("linux", version.Os);
            Assert.AreEqual("amd64", version.Architecture);
            Assert.AreEqual("linux/amd64", version.Platform);
            Assert.AreEqual(20, version.ClientMajorVersion);

            var spec = runner.Specs.Single();
            Assert.AreEqual("/usr/bin/docker", spec.FileName);
            CollectionAssert.AreEqual(new[] { "version", "--format", "{{json .}}" }, spec.Arguments.ToList());
            Assert.IsTrue(spec.CaptureOutput);
            Assert.IsNull(spec.StandardInput);
        }

        [TestMethod]
        public async Task GetVersion_DaemonDown_ECRC1202()
        {
            var runner = new FakeProcessRunner().On("version", 1, RealDaemonDownJson, DaemonDownStderr);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => NewCli(runner).GetVersionAsync(CancellationToken.None));
            Assert.AreEqual("ECRC1202", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "'/usr/bin/docker'");
            StringAssert.Contains(ex.Message, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?");
        }

        [TestMethod]
        public async Task GetVersion_NoServerSection_EvenWithExitZero_ECRC1202()
        {
            var runner = new FakeProcessRunner().On("version", 0, RealDaemonDownJson);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => NewCli(runner).GetVersionAsync(CancellationToken.None));
            Assert.AreEqual("ECRC1202", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "exit code 0");
        }

        [TestMethod]
        [DataRow("")]
        [DataRow("not json at all")]
        [DataRow("{ broken")]
        [DataRow("[1,2]")]
        public async Task GetVersion_GarbageOutput_ECRC1202(string stdout)
        {
            var runner = new FakeProcessRunner().On("version", 0, stdout);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => NewCli(runner).GetVersionAsync(CancellationToken.None));
            Assert.AreEqual("ECRC1202", ex.Diagnostic.Code);
        }

        [TestMethod]
        public async Task MissingExecutable_ECRC1201()
        {
            var start = new ProcessStartException("/nope/docker", new Win32Exception(2, "No such file or directory"));
            var runner = new FakeProcessRunner().On("", new FakeResult(0) { Throw = start });
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => NewCli(runner, executable: "/nope/docker").GetVersionAsync(CancellationToken.None));
            Assert.AreEqual("ECRC1201", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "'/nope/docker'");
            Assert.AreSame(start, ex.InnerException);

            ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => NewCli(runner, executable: "/nope/docker").BuildAsync(new DockerBuildRequest { ContextDirectory = "/tmp" }, BuilderMode.Legacy, CancellationToken.None));
            Assert.AreEqual("ECRC1201", ex.Diagnostic.Code);
        }

        [TestMethod]
        public void BlankExecutable_MeansDocker()
        {
            Assert.AreEqual("docker", new DockerCli("  ", new FakeProcessRunner(), new CapturingBuildLog()).Executable);
        }

        [TestMethod]
        [DataRow("20.10.24+dfsg1", 20)]
        [DataRow("v28.1.1", 28)]
        [DataRow("28.1.1", 28)]
        [DataRow("dev", 0)]
        [DataRow("", 0)]
        public void ParseMajor(string version, int expected) => Assert.AreEqual(expected, DockerVersionInfo.ParseMajor(version));

        // ---------------------------------------------------------------- builder selection

        [TestMethod]
        public async Task SelectBuilder_Client2010_IsBuiltInBuildKit_WithoutAskingForBuildx()
        {
            var runner = new FakeProcessRunner();
            var mode = await NewCli(runner).SelectBuilderAsync(Version("20.10.24+dfsg1"), "DockerSecret items are set", CancellationToken.None);
            Assert.AreSame(BuilderMode.BuildKitBuiltIn, mode);
            Assert.IsTrue(mode.UsesBuildKit);
            Assert.AreEqual("1", mode.DockerBuildKitVariable);
            Assert.AreEqual(0, runner.Specs.Count);
        }

        [TestMethod]
        public async Task SelectBuilder_Client28WithBuildx_IsBuildx()
        {
            var runner = new FakeProcessRunner().On("buildx version", 0, "github.com/docker/buildx v0.23.0 28c90ea\n");
            var mode = await NewCli(runner).SelectBuilderAsync(Version("28.1.1"), null, CancellationToken.None);
            Assert.AreSame(BuilderMode.BuildKitThroughBuildx, mode);
            Assert.IsTrue(mode.UsesBuildKit);
            Assert.AreEqual("1", mode.DockerBuildKitVariable, "DOCKER_BUILDKIT=1 keeps a DOCKER_BUILDKIT=0 of the caller from choosing the legacy builder");
            CollectionAssert.AreEqual(new[] { "buildx", "version" }, runner.Specs.Single().Arguments.ToList());
        }

        [TestMethod]
        public async Task SelectBuilder_Client28WithoutBuildx_NeedingBuildKit_ECRC1203()
        {
            var runner = new FakeProcessRunner().On("buildx version", 1, "", "docker: 'buildx' is not a docker command.\nSee 'docker --help'\n");
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(
                () => NewCli(runner).SelectBuilderAsync(Version("28.1.1"), "the Dockerfile uses RUN --mount", CancellationToken.None));
            Assert.AreEqual("ECRC1203", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "the Dockerfile uses RUN --mount");
            StringAssert.Contains(ex.Message, "'/usr/bin/docker'");
            StringAssert.Contains(ex.Message, "28.1.1");
        }

        [TestMethod]
        public async Task SelectBuilder_Client28WithoutBuildx_NotNeedingBuildKit_IsLegacy()
        {
            var runner = new FakeProcessRunner().On("buildx version", 1, "", "docker: 'buildx' is not a docker command.\n");
            var log = new CapturingBuildLog();
            var mode = await NewCli(runner, log).SelectBuilderAsync(Version("28.1.1"), null, CancellationToken.None);
            Assert.AreSame(BuilderMode.Legacy, mode);
            Assert.IsFalse(mode.UsesBuildKit);
            Assert.AreEqual("0", mode.DockerBuildKitVariable);
            StringAssert.Contains(log.AllText, "legacy builder");
        }

        [TestMethod]
        public async Task SelectBuilder_UnknownClientVersion_AsksForBuildx()
        {
            var runner = new FakeProcessRunner().On("buildx version", 0);
            Assert.AreSame(BuilderMode.BuildKitThroughBuildx, await NewCli(runner).SelectBuilderAsync(Version("dev"), null, CancellationToken.None));
            Assert.AreEqual(1, runner.Specs.Count);
        }

        // ---------------------------------------------------------------- build

        private static DockerBuildRequest NewRequest()
        {
            var request = new DockerBuildRequest { ContextDirectory = "/src/ctx", DockerfilePath = "/src/ctx/Dockerfile" };
            request.Tags.Add("build-cache/app:abc");
            return request;
        }

        [TestMethod]
        public async Task Build_ValuesOfBuildArgsAndSecrets_AreInTheEnvironment_NeverInArgv()
        {
            var runner = new FakeProcessRunner().On("build", 0, "#1 done\n");
            var log = new CapturingBuildLog();
            var cli = NewCli(runner, log);
            var request = NewRequest();
            request.BuildArgs.Add(new System.Collections.Generic.KeyValuePair<string, string?>("NODE_ENV", Canary + "-arg"));
            request.BuildArgs.Add(new System.Collections.Generic.KeyValuePair<string, string?>("EMPTY", ""));
            request.SecretSpecs.Add("id=tok,env=NPM_TOKEN");
            request.SecretSpecs.Add("id=npmrc,src=/home/u/.npmrc");
            request.SecretEnvironment["NPM_TOKEN"] = Canary + "-secret";

            await cli.BuildAsync(request, BuilderMode.BuildKitBuiltIn, CancellationToken.None);

            var spec = runner.Single("build");
            foreach (var argument in spec.Arguments)
            {
                Assert.IsFalse(argument.Contains(Canary), "a value leaked into argv: " + argument);
            }

            Assert.IsFalse(spec.DisplayText.Contains(Canary));
            Assert.IsFalse(log.AllText.Contains(Canary), "a value leaked into the log");
            AssertPair(spec, "--build-arg", "NODE_ENV");
            AssertPair(spec, "--build-arg", "EMPTY");
            AssertPair(spec, "--secret", "id=tok,env=NPM_TOKEN");
            AssertPair(spec, "--secret", "id=npmrc,src=/home/u/.npmrc");
            Assert.AreEqual(Canary + "-arg", spec.Environment["NODE_ENV"]);
            Assert.AreEqual("", spec.Environment["EMPTY"], "an empty value is set (so docker passes ''), not removed");
            Assert.AreEqual(Canary + "-secret", spec.Environment["NPM_TOKEN"]);
        }

        [TestMethod]
        public async Task Build_UnsetBuildArg_IsABareNameRemovedFromTheEnvironment()
        {
            // An unset BuildArg must not reach docker as '' (that overrides the Dockerfile's ARG default): it is
            // '--build-arg NAME' with NAME removed from the child's environment, even when we inherited it.
            var runner = new FakeProcessRunner().On("build", 0);
            var request = NewRequest();
            request.BuildArgs.Add(new System.Collections.Generic.KeyValuePair<string, string?>("NODE_VERSION", null));
            request.BuildArgs.Add(new System.Collections.Generic.KeyValuePair<string, string?>("EMPTY", ""));
            await NewCli(runner).BuildAsync(request, BuilderMode.BuildKitBuiltIn, CancellationToken.None);
            var spec = runner.Single("build");
            AssertPair(spec, "--build-arg", "NODE_VERSION");
            Assert.IsFalse(spec.Arguments.Any(a => a.StartsWith("NODE_VERSION=", StringComparison.Ordinal)), spec.DisplayText);
            Assert.IsTrue(spec.Environment.TryGetValue("NODE_VERSION", out var value), "the variable must be removed explicitly");
            Assert.IsNull(value, "null removes an inherited NODE_VERSION from docker's environment");
            Assert.AreEqual("", spec.Environment["EMPTY"]);
        }

        [TestMethod]
        public async Task Build_UnsetBuildArgNamedLikeADockerCliVariable_IsLeftOut()
        {
            // docker's own variables cannot be removed from its environment; leaving the argument out is what docker
            // does with '--build-arg NAME' for an unset NAME, so the ARG default applies either way.
            var runner = new FakeProcessRunner().On("build", 0);
            var request = NewRequest();
            request.BuildArgs.Add(new System.Collections.Generic.KeyValuePair<string, string?>("DOCKER_CONFIG", null));
            var cli = NewCli(runner);
            cli.Environment["DOCKER_CONFIG"] = "/tmp/private-config";
            await cli.BuildAsync(request, BuilderMode.BuildKitBuiltIn, CancellationToken.None);
            var spec = runner.Single("build");
            Assert.IsFalse(spec.Arguments.Any(a => a.StartsWith("DOCKER_CONFIG", StringComparison.Ordinal)), spec.DisplayText);
            Assert.AreEqual("/tmp/private-config", spec.Environment["DOCKER_CONFIG"], "docker keeps its own configuration");
        }

        [TestMethod]
        public async Task Build_ArgvShape()
        {
            var runner = new FakeProcessRunner().On("build", 0);
            var request = NewRequest();
            request.Tags.Add("build-cache/app:latest");
            request.Target = "deps";
            request.Platform = "linux/amd64";
            request.AdditionalArguments.Add("--network");
            request.AdditionalArguments.Add("host");
            await NewCli(runner).BuildAsync(request, BuilderMode.BuildKitBuiltIn, CancellationToken.None);
            CollectionAssert.AreEqual(
                new[]
                {
                    "build", "--progress=plain", "--file", "/src/ctx/Dockerfile",
                    "--tag", "build-cache/app:abc", "--tag", "build-cache/app:latest",
                    "--target", "deps", "--platform", "linux/amd64",
                    "--network", "host", "/src/ctx",
                },
                runner.Single("build").Arguments.ToList());
            Assert.IsNull(runner.Single("build").StandardInput, "a Dockerfile on disk is not piped");
            Assert.IsFalse(runner.Single("build").CaptureOutput, "build output is streamed, not kept");
        }

        [TestMethod]
        public async Task Build_InlineDockerfile_IsPipedOnStdin()
        {
            var runner = new FakeProcessRunner().On("build", 0);
            var request = NewRequest();
            request.DockerfilePath = null;
            request.DockerfileText = "FROM busybox\nRUN echo hi\n";
            await NewCli(runner).BuildAsync(request, BuilderMode.Legacy, CancellationToken.None);
            var spec = runner.Single("build");
            AssertPair(spec, "--file", "-");
            Assert.AreEqual("FROM busybox\nRUN echo hi\n", spec.StandardInput);
            Assert.AreEqual("/src/ctx", spec.Arguments.Last());
        }

        [TestMethod]
        public async Task Build_ProgressPlainOnlyWithBuildKit_AndDockerBuildKitPerMode()
        {
            foreach (var (mode, progress, variable) in new (BuilderMode, bool, string?)[]
            {
                (BuilderMode.BuildKitBuiltIn, true, "1"),
                (BuilderMode.BuildKitThroughBuildx, true, "1"),
                (BuilderMode.Legacy, false, "0"),
            })
            {
                var runner = new FakeProcessRunner().On("build", 0);
                await NewCli(runner).BuildAsync(NewRequest(), mode, CancellationToken.None);
                var spec = runner.Single("build");
                Assert.AreEqual(progress, spec.Arguments.Contains("--progress=plain"), mode.Description);
                if (variable == null)
                {
                    Assert.IsFalse(spec.Environment.ContainsKey("DOCKER_BUILDKIT"), mode.Description);
                }
                else
                {
                    Assert.AreEqual(variable, spec.Environment["DOCKER_BUILDKIT"], mode.Description);
                }
            }
        }

        [TestMethod]
        public async Task Build_CliEnvironmentReachesEveryChild()
        {
            var runner = new FakeProcessRunner().On("build", 0).On("version", 0, RealVersionJson);
            var cli = NewCli(runner);
            cli.Environment["DOCKER_CONFIG"] = "/tmp/cfg";
            cli.Environment["REMOVE_ME"] = null;
            await cli.GetVersionAsync(CancellationToken.None);
            await cli.BuildAsync(NewRequest(), BuilderMode.BuildKitBuiltIn, CancellationToken.None);
            foreach (var spec in runner.Specs)
            {
                Assert.AreEqual("/tmp/cfg", spec.Environment["DOCKER_CONFIG"]);
                Assert.IsTrue(spec.Environment.ContainsKey("REMOVE_ME"));
                Assert.IsNull(spec.Environment["REMOVE_ME"]);
            }
        }

        [TestMethod]
        public async Task Build_NonZeroExit_ECRC1204_OnlyMarkedStderrLinesAreToolErrors()
        {
            // BuildKit writes its plain progress to stderr; the step's own output carries a "#N <time>" prefix.
            var runner = new FakeProcessRunner().On(
                "build",
                1,
                "ERROR: printed on stdout by something\n",
                "#5 [2/2] RUN exit 3\n#5 0.211 ERROR: a step printing ERROR is not an error line\n"
                + "#5 ERROR: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3\n"
                + "ERROR: failed to solve: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3\n");
            var log = new CapturingBuildLog();
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => NewCli(runner, log).BuildAsync(NewRequest(), BuilderMode.Legacy, CancellationToken.None));
            Assert.AreEqual("ECRC1204", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "docker build failed with exit code 1");
            CollectionAssert.AreEqual(
                new[]
                {
                    "#5 ERROR: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3",
                    "ERROR: failed to solve: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3",
                },
                log.ToolErrors.ToList(),
                log.AllText);
            StringAssert.Contains(log.AllText, "info: #5 [2/2] RUN exit 3");
            StringAssert.Contains(log.AllText, "info: ERROR: printed on stdout by something");
            StringAssert.Contains(log.AllText, "info: #5 0.211 ERROR: a step printing ERROR");
        }

        [TestMethod]
        public async Task Build_SucceedingBuild_LogsNoToolErrors()
        {
            var runner = new FakeProcessRunner().On("build", 0, "Step 2/2 : RUN echo ERROR: fine\nERROR: fine\n", "#6 0.1 error: recovered\n");
            var log = new CapturingBuildLog();
            await NewCli(runner, log).BuildAsync(NewRequest(), BuilderMode.Legacy, CancellationToken.None);
            Assert.AreEqual(0, log.ToolErrors.Count, log.AllText);
        }

        [TestMethod]
        public async Task Build_ArgsNamedLikeDockerCliVariables_GoInArgv_NotTheEnvironment()
        {
            var runner = new FakeProcessRunner().On("build", 0);
            var request = NewRequest();
            foreach (var name in new[] { "PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG", "BUILDX_BUILDER", "DOCKER_BUILDKIT" })
            {
                request.BuildArgs.Add(new System.Collections.Generic.KeyValuePair<string, string?>(name, "v-" + name));
            }

            request.BuildArgs.Add(new System.Collections.Generic.KeyValuePair<string, string?>("NPM_CONFIG_REGISTRY", "v-npm"));
            await NewCli(runner).BuildAsync(request, BuilderMode.BuildKitBuiltIn, CancellationToken.None);
            var spec = runner.Single("build");
            foreach (var name in new[] { "PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG", "BUILDX_BUILDER", "DOCKER_BUILDKIT" })
            {
                AssertPair(spec, "--build-arg", name + "=v-" + name);
            }

            Assert.IsFalse(spec.Environment.ContainsKey("PATH"));
            Assert.IsFalse(spec.Environment.ContainsKey("HOME"));
            Assert.IsFalse(spec.Environment.ContainsKey("DOCKER_HOST"), "a build arg must not redirect docker to another daemon");
            Assert.IsFalse(spec.Environment.ContainsKey("DOCKER_CONFIG"));
            Assert.AreEqual("1", spec.Environment["DOCKER_BUILDKIT"], "the builder mode, not the build arg, sets DOCKER_BUILDKIT");
            AssertPair(spec, "--build-arg", "NPM_CONFIG_REGISTRY");
            Assert.AreEqual("v-npm", spec.Environment["NPM_CONFIG_REGISTRY"]);
        }

        [TestMethod]
        [DataRow("PATH", true)]
        [DataRow("HOME", true)]
        [DataRow("USER", true)]
        [DataRow("TMPDIR", true)]
        [DataRow("SSH_AUTH_SOCK", true)]
        [DataRow("DOCKER_HOST", true)]
        [DataRow("BUILDX_CONFIG", true)]
        [DataRow("NODE_ENV", false)]
        [DataRow("Path", false)]
        [DataRow("MY_DOCKER_HOST", false)]
        public void IsReservedForDockerCli(string name, bool expected) => Assert.AreEqual(expected, DockerCli.IsReservedForDockerCli(name));

        // ---------------------------------------------------------------- push, pull, tag, inspect

        [TestMethod]
        public async Task Push_Failure_ECRC1205()
        {
            var runner = new FakeProcessRunner().On("push", 1, "The push refers to repository [127.0.0.1:5000/app]\n", "unauthorized: authentication required\n");
            var log = new CapturingBuildLog();
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => NewCli(runner, log).PushAsync("127.0.0.1:5000/app:abc", CancellationToken.None));
            Assert.AreEqual("ECRC1205", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "'127.0.0.1:5000/app:abc'");
            StringAssert.Contains(ex.Message, "exit code 1: unauthorized: authentication required");
            CollectionAssert.AreEqual(new[] { "push", "127.0.0.1:5000/app:abc" }, runner.Single("push").Arguments.ToList());
            StringAssert.Contains(log.AllText, "The push refers to repository");
        }

        [TestMethod]
        public async Task Push_Success()
        {
            var runner = new FakeProcessRunner().On("push", 0, "abc: digest: sha256:00 size: 528\n");
            await NewCli(runner).PushAsync("r/app:abc", CancellationToken.None);
        }

        [TestMethod]
        public async Task Pull_Failure_ECRC1206()
        {
            var runner = new FakeProcessRunner().On("pull", 1, "", "Error response from daemon: manifest unknown\n");
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => NewCli(runner).PullAsync("r/app:abc", CancellationToken.None));
            Assert.AreEqual("ECRC1206", ex.Diagnostic.Code);
        }

        [TestMethod]
        public async Task Tag_Failure_ECRC1208_WithTheFirstStderrLine()
        {
            var runner = new FakeProcessRunner().On("tag", 1, "", "Error response from daemon: No such image: a:b\nmore\n");
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => NewCli(runner).TagAsync("a:b", "a:latest", CancellationToken.None));
            Assert.AreEqual("ECRC1208", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "No such image: a:b");
            Assert.IsFalse(ex.Message.Contains("more"));
            CollectionAssert.AreEqual(new[] { "tag", "a:b", "a:latest" }, runner.Single("tag").Arguments.ToList());
        }

        [TestMethod]
        public async Task ImageExists_FollowsTheExitCode()
        {
            var runner = new FakeProcessRunner().On("image inspect --format {{.Id}} yes:1", 0, "sha256:abc\n").On("image inspect", 1, "", "Error: No such image: no:1\n");
            var cli = NewCli(runner);
            Assert.IsTrue(await cli.ImageExistsAsync("yes:1", CancellationToken.None));
            Assert.IsFalse(await cli.ImageExistsAsync("no:1", CancellationToken.None));
        }

        [TestMethod]
        public async Task Cancellation_IsPassedThrough()
        {
            using var cts = new CancellationTokenSource();
            cts.Cancel();
            var runner = new FakeProcessRunner().On("version", 0, RealVersionJson);
            await Assert.ThrowsAsync<OperationCanceledException>(() => NewCli(runner).GetVersionAsync(cts.Token));
        }

        // ---------------------------------------------------------------- error lines

        [TestMethod]
        [DataRow("ERROR: failed to solve: process did not complete", true)]
        [DataRow("#8 ERROR: process \"/bin/sh -c exit 3\" did not complete successfully", true)]
        [DataRow("error: unable to prepare context", true)]
        [DataRow("ERROR[0001] something", true)]
        [DataRow("Error response from daemon: pull access denied", true)]
        [DataRow("error response from daemon: x", true)]
        [DataRow("Error: No such image: build-cache/app:abc", true)]
        [DataRow("Error response from daemon: manifest for build-cache/app:abc not found: manifest unknown", true)]
        [DataRow("ERROR [2/3] RUN npm ci", false)]
        [DataRow("#12 ERROR [internal] load metadata", false)]
        [DataRow("error without a colon", false)]
        [DataRow("#5 0.211 ERROR: printed by a step", false)]
        [DataRow("failed to solve with frontend dockerfile.v0: failed to create LLB definition", true)]
        [DataRow("Step 1/2 : FROM busybox", false)]
        [DataRow("#5 [2/3] RUN echo error", false)]
        [DataRow("errors: 0", false)]
        [DataRow(" ERROR: indented", false)]
        [DataRow("#5 0.123 npm ERR! code E404", false)]
        [DataRow("ERRORS", false)]
        [DataRow("", false)]
        public void IsErrorLine(string line, bool expected) => Assert.AreEqual(expected, DockerCli.IsErrorLine(line), line);

        [TestMethod]
        [DataRow("", "")]
        [DataRow("  one  ", "one")]
        [DataRow("\n first \nsecond\n", "first")]
        public void FirstLine(string text, string expected) => Assert.AreEqual(expected, DockerCli.FirstLine(text));

        private static void AssertPair(ProcessSpec spec, string flag, string value)
        {
            var args = spec.Arguments;
            for (var i = 0; i + 1 < args.Count; i++)
            {
                if (args[i] == flag && args[i + 1] == value)
                {
                    return;
                }
            }

            Assert.Fail($"argv has no '{flag} {value}': {spec.DisplayText}");
        }
    }
}
