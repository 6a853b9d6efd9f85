using System.Text.Json;
using EcrCache.IntegrationTests.Infrastructure;
using EcrCache.TestSupport;

namespace EcrCache.IntegrationTests;

/// <summary>
/// Exports to Buildkite. No real buildkite-agent exists on this machine, so the agent is played by fakes: an HTTP
/// server on a unix socket for the Job API, and a `buildkite-agent` script first on PATH for meta-data. The
/// PowerShell env file is read back by a real pwsh (installed by build/install-prereqs.sh).
/// </summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class BuildkiteExportTests : IntegrationTest
{
    [TestMethod]
    public void JobApiReceivesTheVariablesWithTheBearerToken()
    {
        var ws = CreateWorkspace();
        var socket = Path.Combine(ws.Root, "job-api.sock");
        var token = "job-token-" + Guid.NewGuid().ToString("N");
        using var agent = Track(FakeHttpServer.StartUnix(socket, request =>
        {
            using var doc = JsonDocument.Parse(request.Body);
            var names = doc.RootElement.GetProperty("env").EnumerateObject().Select(p => JsonSerializer.Serialize(p.Name));
            return new FakeResponse(200, "{\"added\":[" + string.Join(",", names) + "],\"updated\":[]}");
        }));

        var build = ws.Build(Array.Empty<string>(), environment: new Dictionary<string, string?>
        {
            ["BUILDKITE"] = "true",
            ["BUILDKITE_AGENT_JOB_API_SOCKET"] = socket,
            ["BUILDKITE_AGENT_JOB_API_TOKEN"] = token,
        });
        var reference = build.AssertResult("built");

        var requests = agent.Requests;
        Assert.AreEqual(1, requests.Count, "exactly one Job API call expected: " + string.Join(", ", requests) + build.Describe());
        var call = requests[0];
        Assert.AreEqual("PATCH", call.Method);
        Assert.AreEqual("/api/current-job/v0/env", call.Path);
        Assert.AreEqual("Bearer " + token, call.Headers.GetValueOrDefault("Authorization"));
        StringAssert.StartsWith(call.Headers.GetValueOrDefault("Content-Type") ?? "", "application/json");
        using var body = JsonDocument.Parse(call.Body);
        var env = body.RootElement.GetProperty("env").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.AreEqual(3, env.Count, "three variables expected: " + call.BodyText);
        Assert.AreEqual(reference, env["BUILDKITE_PLUGIN_DOCKER_IMAGE"]);
        Assert.AreEqual(build.Image, env["BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE"]);
        Assert.AreEqual(build.Tag, env["BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_TAG"]);
        Assert.IsFalse(build.Output.Contains(token, StringComparison.Ordinal), "the Job API token leaked into the build output");
        Assert.IsFalse(build.HasWarning("ECRC1402"), build.Describe());

        // On a hit the variables are exported again (each job needs them).
        var hit = ws.Build(Array.Empty<string>(), environment: new Dictionary<string, string?>
        {
            ["BUILDKITE_AGENT_JOB_API_SOCKET"] = socket,
            ["BUILDKITE_AGENT_JOB_API_TOKEN"] = token,
        });
        hit.AssertResult("hit-local");
        Assert.AreEqual(2, agent.Requests.Count, "the hit should export through the Job API too");
    }

    [TestMethod]
    public void JobApiRefusalIsOnlyAWarningECRC1402()
    {
        var ws = CreateWorkspace();
        var socket = Path.Combine(ws.Root, "job-api.sock");
        using var agent = Track(FakeHttpServer.StartUnix(socket, _ => new FakeResponse(401, "{\"error\":\"invalid token\"}")));
        var build = ws.Build(Array.Empty<string>(), environment: new Dictionary<string, string?>
        {
            ["BUILDKITE_AGENT_JOB_API_SOCKET"] = socket,
            ["BUILDKITE_AGENT_JOB_API_TOKEN"] = "wrong-token",
        });
        build.AssertResult("built");
        Assert.IsTrue(build.HasWarning("ECRC1402"), "a refused Job API call should be warned about" + build.Describe());
        Assert.AreEqual(1, agent.Requests.Count);
    }

    [TestMethod]
    public void MetaDataIsSetThroughBuildkiteAgentWithTheValueOnStdin()
    {
        var ws = CreateWorkspace();
        var bin = Path.Combine(ws.Root, "fake-bin");
        Directory.CreateDirectory(bin);
        var argvFile = Path.Combine(ws.Root, "agent-argv.txt");
        var stdinFile = Path.Combine(ws.Root, "agent-stdin.txt");
        var script = Path.Combine(bin, "buildkite-agent");
        File.WriteAllText(script, $"#!/bin/sh\n# Fake buildkite-agent for EcrCache integration tests: records its arguments and stdin.\nprintf '%s\\n' \"$@\" > '{argvFile}'\ncat > '{stdinFile}'\nexit 0\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var path = bin + ":" + (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin");

        var build = ws.Build(new[] { "-p:EcrCacheMetadataKey=deps-image" }, environment: new Dictionary<string, string?> { ["PATH"] = path });
        var reference = build.AssertResult("built");

        Assert.IsTrue(File.Exists(argvFile), "the fake buildkite-agent was not called" + build.Describe());
        var argv = File.ReadAllLines(argvFile);
        var stdin = File.ReadAllText(stdinFile);
        // The agent reads the value from stdin when the value argument is omitted; accept it as an argument too.
        if (argv.Length == 3)
        {
            CollectionAssert.AreEqual(new[] { "meta-data", "set", "deps-image" }, argv);
            Assert.AreEqual(reference, stdin, "the meta-data value (stdin) should be the image reference");
        }
        else
        {
            CollectionAssert.AreEqual(new[] { "meta-data", "set", "deps-image", reference }, argv);
        }
    }

    [TestMethod]
    public void ExportEnvVariableRenamesTheMainVariable()
    {
        var ws = CreateWorkspace();
        var build = ws.Build("-p:EcrCacheExportEnvVariable=MY_IMAGE");
        var reference = build.AssertResult("built", exportVariable: "MY_IMAGE");
        Assert.AreEqual(reference, build.EnvFile!["MY_IMAGE"]);
        Assert.IsFalse(build.EnvFile.ContainsKey("BUILDKITE_PLUGIN_DOCKER_IMAGE"), "the default name must not be exported when renamed");
        Assert.AreEqual(build.Image, build.EnvFile["BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE"]);
        Assert.AreEqual(build.Tag, build.EnvFile["BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_TAG"]);
        var sourced = Shell.Bash($"source '{ws.EnvFilePath}' && printf '%s' \"$MY_IMAGE\"");
        Assert.AreEqual(reference, sourced.Single());
    }

    [TestMethod]
    public void DefaultRepositoryComesFromBuildkiteSlugs()
    {
        var org = "it-org-" + Guid.NewGuid().ToString("N").Substring(0, 8);
        var ws = CreateWorkspace(repository: "build-cache/" + org + "/pipe");
        var slugs = new Dictionary<string, string?> { ["BUILDKITE_ORGANIZATION_SLUG"] = org, ["BUILDKITE_PIPELINE_SLUG"] = "pipe" };
        var noRepository = new[] { "-p:EcrCacheDockerPath=" + Env.Docker, "-p:BaseImage=" + Env.BaseImage };

        var build = ws.Build(noRepository, defaults: false, environment: slugs);
        build.AssertResult("built");
        Assert.AreEqual("build-cache/" + org + "/pipe", build.Image, "without EcrCacheRepository the repository is build-cache/<org>/<pipeline>");
        ws.Build(noRepository, defaults: false, environment: slugs).AssertResult("hit-local");
    }

    [TestMethod]
    public void HangingMetaDataSetIsKilledAfterEcrCacheMetadataTimeout()
    {
        var ws = CreateWorkspace();
        var (path, agentPidFile, childPidFile) = ws.WriteHangingBuildkiteAgent();

        var build = ws.Build(new[] { "-p:EcrCacheMetadataKey=deps-image", "-p:EcrCacheMetadataTimeout=00:00:02" }, environment: new Dictionary<string, string?> { ["PATH"] = path });

        Assert.IsFalse(build.Command.TimedOut, "the build hung" + build.Describe());
        Assert.AreNotEqual(0, build.ExitCode, "a meta-data time-out fails the build" + build.Describe());
        Assert.IsTrue(build.HasError("ECRC1405"), "expected error ECRC1405" + build.Describe());
        StringAssert.Contains(build.Output, "did not finish within 2 s");
        AssertGone(int.Parse(File.ReadAllText(agentPidFile).Trim()), "the fake agent");
        AssertGone(int.Parse(File.ReadAllText(childPidFile).Trim()), "the fake agent's child");
    }

    [TestMethod]
    public void ProtectedExportVariableFailsBeforeAnythingRunsWithECRC1406()
    {
        var ws = CreateWorkspace();
        var socket = Path.Combine(ws.Root, "job-api.sock");
        using var agent = Track(FakeHttpServer.StartUnix(socket, _ => new FakeResponse(200, "{\"added\":[],\"updated\":[]}")));

        var build = ws.Build(new[] { "-p:EcrCacheExportEnvVariable=BUILDKITE_AGENT_ACCESS_TOKEN" }, environment: new Dictionary<string, string?>
        {
            ["BUILDKITE_AGENT_JOB_API_SOCKET"] = socket,
            ["BUILDKITE_AGENT_JOB_API_TOKEN"] = "job-token",
        });

        build.AssertFailedWith("ECRC1406");
        Assert.IsNull(build.Result, "nothing may be built or looked up" + build.Describe());
        Assert.AreEqual(0, agent.Requests.Count, "no Job API call expected");
        Assert.IsFalse(File.Exists(ws.EnvFilePath), "no env file expected");
    }

    [TestMethod]
    public void UnreachableJobApiWarnsAboutTheSocketNotTheAgentVersion()
    {
        var ws = CreateWorkspace();
        var build = ws.Build(Array.Empty<string>(), environment: new Dictionary<string, string?>
        {
            // Set, as a real agent sets them, but nothing listens: a socket that is not reachable from here.
            ["BUILDKITE_AGENT_JOB_API_SOCKET"] = Path.Combine(ws.Root, "no-agent-here.sock"),
            ["BUILDKITE_AGENT_JOB_API_TOKEN"] = "job-token",
        });

        build.AssertResult("built");
        Assert.IsTrue(build.HasWarning("ECRC1402"), build.Describe());
        var warning = build.Output.Split('\n').First(l => l.Contains("warning ECRC1402", StringComparison.Ordinal));
        StringAssert.Contains(warning, "not reachable");
        Assert.IsFalse(warning.Contains("3.64", StringComparison.Ordinal), "the agent version is not the cause: " + warning);
    }

    [TestMethod]
    public void WithoutTheJobApiVariablesOneDetailLineSaysWhy()
    {
        var ws = CreateWorkspace();
        var build = ws.Build(Array.Empty<string>(), verbosity: "d");

        build.AssertResult("built");
        var lines = build.Output.Split('\n').Where(l => l.Contains("Not exporting through the Buildkite Job API", StringComparison.Ordinal)).ToList();
        Assert.AreEqual(1, lines.Count, "one detail line expected" + build.Describe());
        StringAssert.Contains(lines[0], "BUILDKITE_AGENT_JOB_API_SOCKET and BUILDKITE_AGENT_JOB_API_TOKEN are not set");
        StringAssert.Contains(lines[0], "--no-job-api");
        Assert.IsFalse(build.HasWarning("ECRC1402"), build.Describe());
    }

    [TestMethod]
    public void PowerShellEnvFileBesideTheEnvFileDotSourcesToTheSameValues()
    {
        var ws = CreateWorkspace();
        var build = ws.Build("-p:EcrCacheExportEnvVariable=MY_IMAGE");
        var reference = build.AssertResult("built", exportVariable: "MY_IMAGE");

        var ps1 = ws.EnvFilePath + ".ps1";
        Assert.IsTrue(File.Exists(ps1), ps1 + " was not written" + build.Describe());
        var values = Pwsh.DotSourceAndRead(ps1, new[] { "MY_IMAGE", "BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE", "BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_TAG", "BUILDKITE_PLUGIN_DOCKER_IMAGE" });
        Assert.AreEqual(reference, values["MY_IMAGE"]);
        Assert.AreEqual(build.Image, values["BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE"]);
        Assert.AreEqual(build.Tag, values["BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_TAG"]);
        Assert.IsNull(values["BUILDKITE_PLUGIN_DOCKER_IMAGE"], "the default name must not be set when renamed");

        // A hit rewrites nothing: the file keeps its timestamp.
        var written = File.GetLastWriteTimeUtc(ps1);
        ws.Build("-p:EcrCacheExportEnvVariable=MY_IMAGE").AssertResult("hit-local", exportVariable: "MY_IMAGE");
        Assert.AreEqual(written, File.GetLastWriteTimeUtc(ps1));
    }

    /// <summary>Gone: no /proc entry, or a zombie. A SIGKILL lands asynchronously, so this waits a little.</summary>
    private static void AssertGone(int pid, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            string? stat = null;
            try
            {
                stat = File.ReadAllText("/proc/" + pid + "/stat");
            }
            catch (IOException)
            {
            }

            var state = stat == null ? 'X' : stat[stat.LastIndexOf(')') + 2];
            if (state is 'X' or 'Z')
            {
                return;
            }

            Assert.IsTrue(DateTime.UtcNow < deadline, what + " (pid " + pid + ") is still running, state " + state);
            Thread.Sleep(50);
        }
    }
}
