using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Logging;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Tasks.Tests.Docker;

namespace EcrCache.Tasks.Tests.Core
{
    /// <summary>
    /// The engine end to end on the local provider with the machine's real docker (Inconclusive without it; CI has it).
    /// Each test uses its own repository build-cache/unit-&lt;guid&gt; and removes its images afterwards.
    /// </summary>
    [TestClass]
    public sealed class CacheEngineTests
    {
        private string _dir = "";
        private string _repository = "";
        private bool _usedDocker;

        [TestInitialize]
        public void SetUp()
        {
            _dir = TestPaths.NewTempDirectory("ecrcache-engine");
            _repository = "build-cache/unit-" + Guid.NewGuid().ToString("N").Substring(0, 16);
            File.WriteAllText(Path.Combine(_dir, "package.json"), "{\"name\":\"unit\"}\n");
        }

        [TestCleanup]
        public void TearDown()
        {
            if (_usedDocker)
            {
                RealDocker.RemoveRepository(_repository);
            }

            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private void RequireDocker()
        {
            RealDocker.Require();
            _usedDocker = true;
        }

        private CacheOptions Options(string dockerfile, Action<RawOptions>? configure = null)
        {
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "unit",
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache"),
                ["DockerfileInline"] = dockerfile,
                ["Repository"] = _repository,
                ["DockerPath"] = RealDocker.Executable,
                Environment = _ => null, // no Buildkite job, no secrets from the test runner
            };
            raw.CacheOn.Add(new RawItem("package.json"));
            configure?.Invoke(raw);
            return OptionsParser.Parse(raw, new CapturingBuildLog());
        }

        private string Intermediate(string file) => Path.Combine(_dir, "obj", "ecrcache", file);

        private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

        // ---------------------------------------------------------------- miss, then hit

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task FirstRunBuilds_SecondRunIsALocalHit_AndFilesAreWritten()
        {
            RequireDocker();
            var options = Options("FROM " + RealDocker.BaseImage + "\nLABEL org.ecrcache.test=\"unit\"\n");

            var log1 = new CapturingBuildLog();
            var first = await new CacheEngine(options, log1).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.Built, first.Result, log1.AllText);
            Assert.AreEqual(_repository, first.Image);
            Assert.AreEqual(first.Key.Tag, first.Tag);
            Assert.AreEqual(_repository + ":" + first.Tag, first.Reference);
            Assert.AreEqual(64, first.Key.Hash.Length);
            StringAssert.StartsWith(first.Key.Hash, first.Tag);
            Assert.IsTrue(RealDocker.ImageExists(first.Reference), "the built image is in the daemon");
            Assert.IsTrue(RealDocker.ImageExists(_repository + ":latest"), "PushLatest (the default) tags latest too");
            StringAssert.Contains(log1.AllText, "Cache miss for " + first.Reference);
            StringAssert.Contains(log1.AllText, "important: EcrCache: " + first.Reference + " (built)");
            Assert.AreEqual(0, log1.Errors.Count + log1.ToolErrors.Count, log1.AllText);

            // key.txt, key-manifest.json, ensured.json
            Assert.AreEqual(first.Key.Hash + "\n", File.ReadAllText(Intermediate(CacheEngine.KeyFileName)));
            var manifest = File.ReadAllText(Intermediate(CacheEngine.ManifestFileName));
            Assert.AreEqual(first.Key.Manifest.ToJson(), manifest);
            using (var doc = JsonDocument.Parse(manifest))
            {
                Assert.AreEqual(JsonValueKind.Object, doc.RootElement.ValueKind);
            }

            AssertStamp(first, CacheResult.Built);

            // The env file.
            var envFile = Intermediate("image.env");
            Assert.AreEqual(options.EnvFile, envFile);
            var lines = File.ReadAllText(envFile).Split('\n');
            StringAssert.StartsWith(lines[0], "# Written by EcrCache. Source this file: . ");
            CollectionAssert.AreEqual(
                new[]
                {
                    "export BUILDKITE_PLUGIN_DOCKER_IMAGE='" + first.Reference + "'",
                    "export BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE='" + _repository + "'",
                    "export BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_TAG='" + first.Tag + "'",
                    "",
                },
                lines.Skip(1).ToList());
            var sourced = await ProcessRunner.Instance.RunAsync(
                new ProcessSpec("/bin/sh", new[] { "-c", ". \"$1\" && echo \"$BUILDKITE_PLUGIN_DOCKER_IMAGE\"", "sh", envFile }),
                CancellationToken.None);
            Assert.AreEqual(first.Reference + "\n", sourced.StandardOutput);

            // Second run: the same key, found in the daemon, no build.
            var stampText = File.ReadAllText(Intermediate(CacheEngine.StampFileName));
            var log2 = new CapturingBuildLog();
            var second = await new CacheEngine(options, log2).EnsureAsync(Timeout());
            Assert.AreEqual(CacheResult.HitLocal, second.Result, log2.AllText);
            Assert.AreEqual(first.Reference, second.Reference);
            Assert.AreEqual(first.Key.Hash, second.Key.Hash);
            Assert.IsFalse(log2.AllText.Contains("Building with"), log2.AllText);
            StringAssert.Contains(log2.AllText, "(hit-local)");
            Assert.AreEqual(stampText, File.ReadAllText(Intermediate(CacheEngine.StampFileName)), "a local hit that changes nothing leaves ensured.json as the build wrote it");
            AssertStamp(second, CacheResult.Built);
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task ChangingACacheOnFile_ChangesTheKey_AndBuildsAgain()
        {
            RequireDocker();
            var options = Options("FROM " + RealDocker.BaseImage + "\n");
            var first = await new CacheEngine(options, new CapturingBuildLog()).EnsureAsync(Timeout());
            File.WriteAllText(Path.Combine(_dir, "package.json"), "{\"name\":\"unit\",\"version\":\"2\"}\n");
            var second = await new CacheEngine(options, new CapturingBuildLog()).EnsureAsync(Timeout());
            Assert.AreNotEqual(first.Tag, second.Tag);
            Assert.AreEqual(CacheResult.Built, second.Result);
            Assert.AreEqual(second.Key.Hash + "\n", File.ReadAllText(Intermediate(CacheEngine.KeyFileName)));
            Assert.IsTrue(RealDocker.ImageExists(first.Reference));
            Assert.IsTrue(RealDocker.ImageExists(second.Reference));
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task ComputeKey_WritesTheKeyOnly()
        {
            RequireDocker();
            var options = Options("FROM " + RealDocker.BaseImage + "\n");
            var key = await new CacheEngine(options, new CapturingBuildLog()).ComputeKeyAsync(Timeout());
            Assert.AreEqual(key.Hash + "\n", File.ReadAllText(Intermediate(CacheEngine.KeyFileName)));
            Assert.IsTrue(File.Exists(Intermediate(CacheEngine.ManifestFileName)));
            Assert.IsFalse(File.Exists(Intermediate(CacheEngine.StampFileName)));
            Assert.IsFalse(File.Exists(options.EnvFile));
            Assert.AreEqual(0, RealDocker.Tags(_repository).Count);
        }

        [TestMethod]
        [TestCategory(Categories.Docker)]
        public async Task FailingBuild_ECRC1204_RecordsNothing()
        {
            RequireDocker();
            var options = Options("FROM " + RealDocker.BaseImage + "\nRUN echo about to fail && exit 3\n");
            var log = new CapturingBuildLog();
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => new CacheEngine(options, log).EnsureAsync(Timeout()));
            Assert.AreEqual("ECRC1204", ex.Diagnostic.Code, log.AllText);
            Assert.IsFalse(File.Exists(Intermediate(CacheEngine.StampFileName)));
            Assert.IsFalse(File.Exists(options.EnvFile));
            Assert.AreEqual(0, RealDocker.Tags(_repository).Count);
        }

        [TestMethod]
        public async Task MissingDocker_ECRC1201()
        {
            var raw = new RawOptions
            {
                ProjectDirectory = _dir,
                ProjectName = "unit",
                IntermediateDirectory = Path.Combine(_dir, "obj", "ecrcache"),
                ["DockerfileInline"] = "FROM scratch\n",
                ["Repository"] = _repository,
                ["DockerPath"] = Path.Combine(_dir, "no-such-docker"),
                Environment = _ => null,
            };
            var options = OptionsParser.Parse(raw, new CapturingBuildLog());
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => new CacheEngine(options, new CapturingBuildLog()).EnsureAsync(Timeout()));
            Assert.AreEqual("ECRC1201", ex.Diagnostic.Code);
            Assert.IsFalse(File.Exists(Intermediate(CacheEngine.StampFileName)));
        }

        // ---------------------------------------------------------------- cancellation

        [TestMethod]
        [TestCategory(Categories.Docker)]
        [Timeout(180000, CooperativeCancellation = true)]
        public async Task CancellationDuringABuild_KillsDockerBuild_AndRecordsNothing()
        {
            RequireDocker();
            var options = Options("FROM " + RealDocker.BaseImage + "\nRUN echo ecrcache-unit-run-started && sleep 60\n");
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            var runStarted = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            var log = new CapturingBuildLog
            {
                // The RUN's own output (not the line that echoes the RUN instruction) proves the step is running.
                OnLine = line =>
                {
                    if (line.Contains("ecrcache-unit-run-started") && !line.Contains("RUN") && !line.Contains("echo"))
                    {
                        runStarted.TrySetResult(true);
                    }
                },
            };

            var ensure = new CacheEngine(options, log).EnsureAsync(cts.Token);
            var first = await Task.WhenAny(runStarted.Task, ensure, Task.Delay(TimeSpan.FromSeconds(90)));
            Assert.AreSame(runStarted.Task, first, "the RUN step did not start: " + log.AllText);
            Assert.IsTrue(RealDocker.ProcessesMentioning(_repository).Count > 0, "docker build runs before the cancellation");

            await Task.Delay(1000);
            var started = DateTime.UtcNow;
            cts.Cancel();
            await Assert.ThrowsAsync<OperationCanceledException>(() => ensure);
            Assert.IsTrue(DateTime.UtcNow - started < TimeSpan.FromSeconds(20), "cancellation took " + (DateTime.UtcNow - started));

            Assert.IsFalse(File.Exists(Intermediate(CacheEngine.StampFileName)), "a cancelled build records no ensured.json");
            Assert.IsFalse(File.Exists(options.EnvFile), "a cancelled build exports nothing");

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            IReadOnlyList<string> left;
            while ((left = RealDocker.ProcessesMentioning(_repository)).Count > 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }

            Assert.AreEqual(0, left.Count, "docker build outlived the cancellation: " + string.Join("; ", left));
            Assert.AreEqual(0, RealDocker.Tags(_repository).Count, "no image was tagged");
        }

        // ---------------------------------------------------------------- BuildKitReason (no docker needed)

        private static string? Reason(Action<CacheOptions> configure)
        {
            var options = new CacheOptions { DockerfileInline = "FROM busybox\nRUN true\n" };
            configure(options);
            return new CacheEngine(options, NullBuildLog.Instance, new FakeProcessRunner()).BuildKitReason();
        }

        [TestMethod]
        public void BuildKitReason_None()
        {
            Assert.IsNull(Reason(_ => { }));
            Assert.IsNull(Reason(o => o.AdditionalBuildArgList.Add("--network=host")));
            Assert.IsNull(Reason(o => o.DockerfileInline = "FROM busybox\n# a comment about --mount\nRUN echo --mount\n"));
        }

        [TestMethod]
        public void BuildKitReason_Secrets()
        {
            Assert.AreEqual(
                "DockerSecret items are set",
                Reason(o => o.Secrets.Add(new SecretSpec("t", "id=t,env=T", "T", null))));
        }

        [TestMethod]
        [DataRow("RUN --mount=type=cache,target=/root/.npm npm ci")]
        [DataRow("  run --mount=type=secret,id=t cat /run/secrets/t")]
        [DataRow("RUN --network=none --mount=type=bind,target=/x true")]
        public void BuildKitReason_RunMount(string line)
        {
            Assert.AreEqual("the Dockerfile uses RUN --mount", Reason(o => o.DockerfileInline = "FROM busybox\n" + line + "\n"));
        }

        [TestMethod]
        [DataRow("# syntax=docker/dockerfile:1")]
        [DataRow("#syntax=docker/dockerfile:1.7")]
        [DataRow("# Syntax = docker/dockerfile:1")]
        public void BuildKitReason_SyntaxDirective(string directive)
        {
            Assert.AreEqual("the Dockerfile has a # syntax= directive", Reason(o => o.DockerfileInline = directive + "\nFROM busybox\n"));
        }

        [TestMethod]
        [DataRow("--ssh")]
        [DataRow("--ssh=default")]
        [DataRow("--secret")]
        [DataRow("--secret=id=x,src=y")]
        public void BuildKitReason_AdditionalArgs(string word)
        {
            Assert.AreEqual("EcrCacheAdditionalBuildArgs uses --secret or --ssh", Reason(o => o.AdditionalBuildArgList.Add(word)));
        }

        [TestMethod]
        public void BuildKitReason_ReadsTheDockerfileFromDisk()
        {
            var path = Path.Combine(_dir, "Dockerfile");
            File.WriteAllText(path, "FROM busybox\nRUN --mount=type=cache,target=/c true\n");
            Assert.AreEqual("the Dockerfile uses RUN --mount", Reason(o =>
            {
                o.DockerfileInline = null;
                o.DockerfilePath = path;
            }));
        }

        [TestMethod]
        public void BuildKitReason_SecretsComeFirst()
        {
            Assert.AreEqual("DockerSecret items are set", Reason(o =>
            {
                o.Secrets.Add(new SecretSpec("t", "id=t,env=T", "T", null));
                o.AdditionalBuildArgList.Add("--ssh");
                o.DockerfileInline = "# syntax=docker/dockerfile:1\nFROM busybox\nRUN --mount=type=cache,target=/c true\n";
            }));
        }

        private void AssertStamp(CacheResult result, string expected)
        {
            using var stamp = JsonDocument.Parse(File.ReadAllText(Intermediate(CacheEngine.StampFileName)));
            var root = stamp.RootElement;
            Assert.AreEqual(result.Key.Hash, root.GetProperty("key").GetString());
            Assert.AreEqual(result.Image, root.GetProperty("image").GetString());
            Assert.AreEqual(result.Tag, root.GetProperty("tag").GetString());
            Assert.AreEqual(result.Reference, root.GetProperty("reference").GetString());
            Assert.AreEqual(expected, root.GetProperty("result").GetString());
            var time = DateTimeOffset.Parse(root.GetProperty("time").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.IsTrue(Math.Abs((DateTimeOffset.UtcNow - time).TotalMinutes) < 10);
        }
    }
}
