using System.IO.Compression;
using System.Text;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>
/// DockerSecret items: the value must reach `RUN --mount=type=secret` and nothing else. Dockerfile.secrets writes
/// only sha256 digests of the mounted secrets into the image, which lets the test prove the values arrived without
/// the values being stored anywhere.
/// </summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class SecretTests : IntegrationTest
{
    [TestMethod]
    public void SecretsReachTheBuildAndLeakNowhere()
    {
        var ws = CreateWorkspace();
        var envCanary = "ecrc-env-canary-" + Guid.NewGuid().ToString("N");
        var fileCanary = "ecrc-file-canary-" + Guid.NewGuid().ToString("N");
        var npmrc = "//registry.npmjs.org/:_authToken=" + fileCanary + "\n";
        ws.WriteFile(".npmrc", npmrc);

        // BuildKit's layer cache ignores secret values (by design), so make the layers before the RUN --mount step
        // unique to this test: otherwise an earlier run's layer, with other secrets' digests, would be reused.
        ws.WriteFile("package.json", "{ \"name\": \"sample-root\", \"version\": \"1.0.0\", \"private\": true, \"workspaces\": [\"app\"], \"nonce\": \"" + Guid.NewGuid().ToString("N") + "\" }\n");
        var binlog = Path.Combine(ws.Root, "secrets.binlog");

        var build = ws.Build(
            new[] { "-p:UseSecret=true", "-bl:" + binlog },
            verbosity: "diag",
            environment: new Dictionary<string, string?> { ["NPM_TOKEN"] = envCanary });
        var reference = build.AssertResult("built");

        // The secrets reached the RUN --mount step: the image holds exactly their digests.
        Assert.AreEqual(Shell.Sha256Hex(envCanary), DockerHelper.Cat(reference, "/npm-token.sha256"), "the NPM_TOKEN secret did not reach RUN --mount");
        Assert.AreEqual(Shell.Sha256Hex(npmrc), DockerHelper.Cat(reference, "/npmrc.sha256"), "the .npmrc file secret did not reach RUN --mount");

        // ...and nowhere else.
        var places = new List<(string Name, string Text)>
        {
            ("console output (-v:diag)", build.Output),
            ("env file", File.ReadAllText(ws.EnvFilePath)),
            ("key.txt", File.ReadAllText(ws.KeyPath)),
            ("key-manifest.json", File.ReadAllText(ws.KeyManifestPath)),
            ("ensured.json", File.ReadAllText(ws.StampPath)),
        };

        // The binlog, raw (gunzipped records) and replayed to a diagnostic text log.
        Assert.IsTrue(File.Exists(binlog), "no binlog was written" + build.Describe());
        var raw = Gunzip(binlog);
        var rawText = Encoding.UTF8.GetString(raw);
        Assert.IsTrue(rawText.Contains(reference, StringComparison.Ordinal), "sanity: the raw binlog should contain the image reference");
        places.Add(("binlog (raw, gunzipped)", rawText));
        places.Add(("binlog (raw, gunzipped, as UTF-16)", Encoding.Unicode.GetString(raw)));
        var replayLog = Path.Combine(ws.Root, "binlog-replay.txt");
        var replay = ws.Dotnet(new[] { "msbuild", binlog, "-noconlog", "-flp:logfile=" + replayLog + ";verbosity=diagnostic" });
        Assert.AreEqual(0, replay.ExitCode, "binlog replay failed" + replay.Describe());
        var replayText = File.ReadAllText(replayLog);
        Assert.IsTrue(replayText.Contains("EcrCache: " + reference, StringComparison.Ordinal), "sanity: the replayed binlog should contain the EcrCache summary line");
        places.Add(("binlog replayed at diagnostic verbosity", replayText));

        // The image: its history (the RUN lines) and its whole configuration.
        var history = DockerHelper.Run("history", "--no-trunc", reference);
        Assert.AreEqual(0, history.ExitCode, history.Describe());
        Assert.IsTrue(history.Output.Contains("/run/secrets/NPM_TOKEN", StringComparison.Ordinal), "sanity: the history shows the RUN --mount step" + history.Describe());
        places.Add(("docker history --no-trunc", history.Output));
        var inspect = DockerHelper.Run("inspect", reference);
        Assert.AreEqual(0, inspect.ExitCode, inspect.Describe());
        places.Add(("docker inspect", inspect.Output));

        foreach (var (name, text) in places)
        {
            Assert.IsFalse(text.Contains(envCanary, StringComparison.Ordinal), $"the NPM_TOKEN value leaked into the {name}");
            Assert.IsFalse(text.Contains(fileCanary, StringComparison.Ordinal), $"the .npmrc content leaked into the {name}");
        }

        foreach (var file in Directory.EnumerateFiles(ws.IntermediateDirectory, "*", SearchOption.AllDirectories))
        {
            var content = File.ReadAllText(file);
            Assert.IsFalse(content.Contains(envCanary, StringComparison.Ordinal) || content.Contains(fileCanary, StringComparison.Ordinal), "a secret leaked into " + file);
        }

        // docker was handed the secret by reference (its id and the variable's name), never by value.
        Assert.IsTrue(build.Output.Contains("--secret id=NPM_TOKEN,env=NPM_TOKEN", StringComparison.Ordinal), "sanity: docker was given the secret by reference" + build.Describe());
    }

    [TestMethod]
    public void SecretsNeverAppearInProcessArgumentsOrThePushedImage()
    {
        // Pushed to the registry and pulled back on a "clean machine"; /proc/*/cmdline of every process on the
        // machine is sampled while the build runs (dotnet, MSBuild nodes, docker, buildkit helpers).
        var ws = CreateWorkspace();
        var envCanary = "ecrc-env-canary-" + Guid.NewGuid().ToString("N");
        var fileCanary = "ecrc-file-canary-" + Guid.NewGuid().ToString("N");
        ws.WriteFile(".npmrc", "//registry.npmjs.org/:_authToken=" + fileCanary + "\n");
        ws.WriteFile("package.json", "{ \"name\": \"sample-root\", \"version\": \"1.0.0\", \"private\": true, \"workspaces\": [\"app\"], \"nonce\": \"" + Guid.NewGuid().ToString("N") + "\" }\n");

        using var running = ws.StartBuild(new[] { "-p:UseSecret=true" }.Concat(Workspace.RegistryProvider(Env.Registry)), environment: new Dictionary<string, string?> { ["NPM_TOKEN"] = envCanary });
        var samples = 0;
        var leaks = new List<string>();
        while (!running.HasExited)
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out _))
                {
                    continue;
                }

                try
                {
                    var cmdline = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "cmdline"))).Replace('\0', ' ');
                    if (cmdline.Contains(envCanary, StringComparison.Ordinal) || cmdline.Contains(fileCanary, StringComparison.Ordinal))
                    {
                        leaks.Add(cmdline);
                    }
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                }
            }

            samples++;
            Thread.Sleep(20);
        }

        var build = new BuildResult(running.WaitForExit(Workspace.BuildTimeout), ws);
        var reference = build.AssertResult("built");
        Log($"{samples} samples of /proc/*/cmdline during the build");
        Assert.IsTrue(samples > 10, "sanity: the process table was sampled while the build ran");
        Assert.AreEqual(0, leaks.Count, "a secret appeared in process arguments: " + string.Join(" | ", leaks));

        DockerHelper.RemoveRepositoryImages(ws.Repository);
        var pull = DockerHelper.Run("pull", reference);
        Assert.AreEqual(0, pull.ExitCode, pull.Describe());
        foreach (var args in new[] { new[] { "history", "--no-trunc", reference }, new[] { "inspect", reference } })
        {
            var result = DockerHelper.Run(args);
            Assert.AreEqual(0, result.ExitCode, result.Describe());
            Assert.IsFalse(result.Output.Contains(envCanary, StringComparison.Ordinal) || result.Output.Contains(fileCanary, StringComparison.Ordinal), "a secret is in the pushed image: docker " + string.Join(" ", args));
        }

        Assert.IsFalse(build.Output.Contains(envCanary, StringComparison.Ordinal) || build.Output.Contains(fileCanary, StringComparison.Ordinal), "a secret is in the console log");
    }

    [TestMethod]
    public void SecretsAndTokensStayOutOfTheProgressLinesAndLogGroups()
    {
        // What the default verbosity now shows (step lines, push progress, Buildkite group markers; with
        // EcrCacheProgress=full every docker line at high importance), on a miss that mounts both secrets, pushes to
        // the htpasswd registry and exports through a Job API (a fake server on a unix socket: no agent here).
        foreach (var progress in new[] { "steps", "full" })
        {
            var ws = CreateWorkspace();
            var envCanary = "ecrc-env-canary-" + Guid.NewGuid().ToString("N");
            var fileCanary = "ecrc-file-canary-" + Guid.NewGuid().ToString("N");
            var tokenCanary = "ecrc-job-token-canary-" + Guid.NewGuid().ToString("N");
            ws.WriteFile(".npmrc", "//registry.npmjs.org/:_authToken=" + fileCanary + "\n");
            ws.WriteFile("package.json", "{ \"name\": \"sample-root\", \"version\": \"1.0.0\", \"private\": true, \"workspaces\": [\"app\"], \"nonce\": \"" + Guid.NewGuid().ToString("N") + "\" }\n");
            ws.WriteDockerAuth(Env.AuthRegistry, Env.AuthUser, Env.AuthPassword);
            var socket = Path.Combine(ws.Root, "job-api.sock");
            using var agent = Track(FakeHttpServer.StartUnix(socket, _ => new FakeResponse(200, "{\"added\":[],\"updated\":[]}")));
            var build = ws.Build(
                new[] { "-p:UseSecret=true", "-p:EcrCacheProgress=" + progress }.Concat(Workspace.RegistryProvider(Env.AuthRegistry)),
                verbosity: null,
                environment: new Dictionary<string, string?>
                {
                    ["NPM_TOKEN"] = envCanary,
                    ["BUILDKITE"] = "true",
                    ["BUILDKITE_AGENT_JOB_API_SOCKET"] = socket,
                    ["BUILDKITE_AGENT_JOB_API_TOKEN"] = tokenCanary,
                });
            build.AssertResult("built");
            StringAssert.Contains(build.Output, "--- :docker: EcrCache: building ", "sanity: the group markers are there" + build.Describe());
            StringAssert.Contains(build.Output, progress == "full" ? "/run/secrets/NPM_TOKEN" : "EcrCache: [3/3] RUN --mount=type=secret,id=NPM_TOKEN", "sanity: the secret step is shown" + build.Describe());
            foreach (var (name, canary) in new[] { ("NPM_TOKEN value", envCanary), (".npmrc content", fileCanary), ("Job API token", tokenCanary), ("registry password", Env.AuthPassword) })
            {
                Assert.IsFalse(build.Output.Contains(canary, StringComparison.Ordinal), $"the {name} leaked into the output with EcrCacheProgress={progress}");
            }
        }
    }

    [TestMethod]
    public void MissingSecretEnvironmentVariableFailsWithECRC1005()
    {
        var ws = CreateWorkspace();
        var build = ws.Build(new[] { "-p:UseSecret=true" }, environment: new Dictionary<string, string?> { ["NPM_TOKEN"] = null });
        build.AssertFailedWith("ECRC1005");
        Assert.IsTrue(build.Output.Contains("NPM_TOKEN", StringComparison.Ordinal), build.Describe());
        Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count, "nothing may be built when a secret is missing");
    }

    [TestMethod]
    public void MissingSecretSourceFileFailsWithECRC1006()
    {
        var ws = CreateWorkspace();
        File.Delete(Path.Combine(ws.ProjectDirectory, ".npmrc"));
        var build = ws.Build(new[] { "-p:UseSecret=true" }, environment: new Dictionary<string, string?> { ["NPM_TOKEN"] = "present" });
        build.AssertFailedWith("ECRC1006");
        Assert.IsTrue(build.Output.Contains(".npmrc", StringComparison.Ordinal), build.Describe());
        Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count, "nothing may be built when a secret is missing");
    }

    private static byte[] Gunzip(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        gzip.CopyTo(buffer);
        return buffer.ToArray();
    }
}
