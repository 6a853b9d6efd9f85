using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>
/// docs/reliability.md end to end through `dotnet build` of the packed SDK: Ctrl+C (SIGINT) during docker push and
/// docker pull, parallel builds of one key, a dead daemon, and the secret-looking build-arg warning. Slow pushes and
/// pulls come from a <see cref="FaultProxy"/> in front of the real docker-registry that delays blob transfers.
/// </summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class ReliabilityTests : IntegrationTest
{
    [TestMethod]
    public void SigintDuringDockerPush_KillsIt_ReleasesLockAndLease_RecordsNothing()
    {
        var proxy = Track(new FaultProxy(Env.Registry)
        {
            Latency = TimeSpan.FromMinutes(2),
            Decide = (method, path) => path.Contains("/blobs/uploads/", StringComparison.Ordinal) && method == "PATCH" ? FaultKind.Latency : FaultKind.None,
        });
        var ws = CreateWorkspace();
        var locks = Path.Combine(ws.Root, "locks");
        var nonce = Guid.NewGuid().ToString("N");
        ws.WriteFile("package.json", "{ \"name\": \"sample-root\", \"version\": \"1.0.0\", \"private\": true, \"workspaces\": [\"app\"], \"nonce\": \"" + nonce + "\" }\n");
        using var build = ws.StartBuild(Workspace.RegistryProvider(proxy.Address), environment: new Dictionary<string, string?> { ["ECRCACHE_LOCK_DIR"] = locks });
        try
        {
            // (Failure messages that describe the build call WaitForExit, which kills it: only on the failure path.)
            if (!build.WaitForOutput("The push refers to repository", TimeSpan.FromMinutes(3)))
            {
                Assert.Fail("docker push never started" + build.WaitForExit(TimeSpan.FromSeconds(1)).Describe());
            }
            var tag = File.ReadAllText(ws.KeyPath).Trim()[..24];
            Thread.Sleep(2000);
            Assert.IsFalse(build.HasExited, "sanity: the build waits for the slow push");
            var pushes = DockerProcesses("push", ws.Repository);
            Assert.IsTrue(pushes.Count > 0, "sanity: docker push runs");
            Assert.IsTrue(LockFiles(locks).Any(f => !IsFree(f)), "sanity: the build holds its per-image lock while pushing");
            Assert.IsTrue(ReadLease(ws.Repository, tag)?.GetProperty("released").GetBoolean() == false, "sanity: the registry lease is held while pushing");
            Assert.IsFalse(build.HasExited, "sanity: still running");

            Interrupt(ws, build);
            var result = build.WaitForExit(TimeSpan.FromSeconds(60));
            Assert.IsFalse(result.TimedOut, "dotnet build did not exit after SIGINT" + result.Describe());
            Assert.AreNotEqual(0, result.ExitCode, "a cancelled build must fail" + result.Describe());
            Assert.IsTrue(result.Output.Contains("ECRC1901", StringComparison.Ordinal), result.Describe());

            Assert.IsTrue(WaitUntil(() => DockerProcesses("push", ws.Repository).Count == 0, TimeSpan.FromSeconds(10)), "docker push still running: " + string.Join(" | ", DockerProcesses("push", ws.Repository)));
            Assert.IsFalse(File.Exists(ws.StampPath), "no stamp after a cancelled push");
            Assert.IsFalse(File.Exists(ws.EnvFilePath), "no env file after a cancelled push");
            Assert.IsTrue(LockFiles(locks).All(IsFree), "no lock left held");
            Assert.IsTrue(ReadLease(ws.Repository, tag)?.GetProperty("released").GetBoolean() != false, "no lease left held");
            Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count(t => t.EndsWith(":" + tag, StringComparison.Ordinal)), "the unpublished local tag is removed so the next run pushes");
        }
        finally
        {
            build.KillTree();
        }
    }

    [TestMethod]
    public void SigintDuringDockerPull_KillsIt_RecordsNothing()
    {
        var proxy = Track(new FaultProxy(Env.Registry) { Latency = TimeSpan.FromMinutes(2) });
        var ws = CreateWorkspace();
        var nonce = Guid.NewGuid().ToString("N");
        ws.WriteFile("package.json", "{ \"name\": \"sample-root\", \"version\": \"1.0.0\", \"private\": true, \"workspaces\": [\"app\"], \"nonce\": \"" + nonce + "\" }\n");
        var first = ws.Build(Workspace.RegistryProvider(proxy.Address));
        var reference = first.AssertResult("built");
        // The nonce makes the image this test's own; its layers must go, or the pull below would have nothing to fetch.
        DockerHelper.RemoveRepositoryImages(ws.Repository, keepContent: false);
        File.Delete(ws.StampPath);
        File.Delete(ws.EnvFilePath);

        // Now every layer download hangs.
        proxy.Decide = (method, path) => method == "GET" && path.Contains("/blobs/sha256:", StringComparison.Ordinal) ? FaultKind.Latency : FaultKind.None;
        using var build = ws.StartBuild(Workspace.RegistryProvider(proxy.Address));
        try
        {
            if (!build.WaitForOutput("docker pull " + reference, TimeSpan.FromMinutes(2)))
            {
                Assert.Fail("docker pull never started" + build.WaitForExit(TimeSpan.FromSeconds(1)).Describe());
            }
            Assert.IsTrue(WaitUntil(() => DockerProcesses("pull", ws.Repository).Count > 0, TimeSpan.FromSeconds(20)), "sanity: docker pull runs");
            Interrupt(ws, build);
            var result = build.WaitForExit(TimeSpan.FromSeconds(60));
            Assert.IsFalse(result.TimedOut, "dotnet build did not exit after SIGINT" + result.Describe());
            Assert.AreNotEqual(0, result.ExitCode, result.Describe());
            Assert.IsTrue(WaitUntil(() => DockerProcesses("pull", ws.Repository).Count == 0, TimeSpan.FromSeconds(10)), "docker pull still running: " + string.Join(" | ", DockerProcesses("pull", ws.Repository)));
            Assert.IsFalse(File.Exists(ws.StampPath), "no stamp after a cancelled pull");
            Assert.IsFalse(File.Exists(ws.EnvFilePath), "no env file after a cancelled pull");
        }
        finally
        {
            build.KillTree();
        }
    }

    [TestMethod]
    public void ThreeParallelBuildsOfOneKey_BuildOnce()
    {
        // Three copies of one project (same inputs, so the same key), started together against one registry.
        var repository = NewRepository();
        var nonce = Guid.NewGuid().ToString("N");
        var workspaces = Enumerable.Range(0, 3).Select(_ => CreateWorkspace(repository: repository)).ToList();
        foreach (var ws in workspaces)
        {
            ws.WriteFile("package.json", "{ \"name\": \"sample-root\", \"version\": \"1.0.0\", \"private\": true, \"workspaces\": [\"app\"], \"nonce\": \"" + nonce + "\" }\n");
        }

        var builds = workspaces.Select(ws => ws.StartBuild(Workspace.RegistryProvider(Env.Registry))).ToList();
        var results = builds.Select((b, i) => new BuildResult(b.WaitForExit(Workspace.BuildTimeout), workspaces[i])).ToList();
        foreach (var b in builds)
        {
            b.Dispose();
        }

        var all = string.Join("\n=====\n", results.Select(r => r.Describe()));
        Assert.IsTrue(results.All(r => r.ExitCode == 0), all);
        Assert.AreEqual(1, results.Count(r => r.Result == "built"), "exactly one build: " + string.Join(", ", results.Select(r => r.Result)) + all);
        Assert.AreEqual(1, results.Select(r => r.Reference).Distinct().Count());
        Log(string.Join(", ", results.Select(r => r.Result)));
    }

    [TestMethod]
    public void DeadDaemon_IsACodedErrorNamingDockerHost()
    {
        var socket = "/tmp/ecrcache-it-dead-" + Guid.NewGuid().ToString("N")[..8] + ".sock";
        var build = CreateWorkspace().Build(Array.Empty<string>(), environment: new Dictionary<string, string?> { ["DOCKER_HOST"] = "unix://" + socket });
        build.AssertFailedWith("ECRC1202");
        Assert.IsTrue(build.Output.Contains("DOCKER_HOST=unix://" + socket, StringComparison.Ordinal), "the error names the daemon" + build.Describe());
    }

    [TestMethod]
    public void SecretLookingBuildArgWarnsECRC1040_UnlessAllowed()
    {
        var build = CreateWorkspace().Build("-p:SecretLookingArgs=true");
        build.AssertResult("built");
        Assert.IsTrue(build.HasWarning("ECRC1040"), "API_TOKEN looks like a secret" + build.Describe());
        Assert.IsTrue(build.Output.Contains("'API_TOKEN'", StringComparison.Ordinal), build.Describe());
        Assert.IsFalse(Regex.IsMatch(build.Output, "warning ECRC1040[^\n]*SSH_KEY_NAME"), "AllowSecretLookingName=\"true\" silences it" + build.Describe());
    }

    private static void Interrupt(Workspace ws, ChildProcess build)
    {
        build.AssertSigintNotIgnored();
        var kill = ChildProcess.Run("kill", new[] { "-INT", build.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, ws.Root, ws.ChildEnvironment(), TimeSpan.FromSeconds(10));
        Assert.AreEqual(0, kill.ExitCode, "kill -INT failed" + kill.Describe());
    }

    private static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (condition())
            {
                return true;
            }

            Thread.Sleep(200);
        }

        return condition();
    }

    private static IEnumerable<string> LockFiles(string folder) =>
        Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*.lock").ToList() : new List<string>();

    /// <summary>flock(1) -n succeeds only when nobody holds the lock (the kind EcrCache takes).</summary>
    private static bool IsFree(string lockFile) =>
        ChildProcess.Run("flock", new[] { "-n", lockFile, "true" }, Path.GetDirectoryName(lockFile)!, new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }, TimeSpan.FromSeconds(10)).ExitCode == 0;

    /// <summary>The lease record in the registry's &lt;tag&gt;-lease manifest, or null when there is none.</summary>
    private static JsonElement? ReadLease(string repository, string tag)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://" + Env.Registry + "/v2/" + repository + "/manifests/" + tag + "-lease");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.oci.image.manifest.v1+json"));
        using var response = http.Send(request);
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }

        var body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        using var document = JsonDocument.Parse(body);
        var lease = document.RootElement.GetProperty("annotations").GetProperty("dev.ecrcache.lease").GetString()!;
        return JsonDocument.Parse(lease).RootElement.Clone();
    }

    /// <summary>Running `docker VERB ...repository...` processes, from the process table (/proc, through ps).</summary>
    private static List<string> DockerProcesses(string verb, string repository)
    {
        var ps = ChildProcess.Run("ps", new[] { "-eo", "pid=,args=" }, "/", new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }, TimeSpan.FromSeconds(20));
        return ps.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line =>
            {
                var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return words.Length > 2 && words[1].EndsWith("docker", StringComparison.Ordinal)
                    && (verb.Length == 0 || words.Contains(verb)) && words.Any(w => w.Contains(repository, StringComparison.Ordinal));
            })
            .ToList();
    }
}
