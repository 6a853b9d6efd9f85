using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>
/// docs/reliability.md "Stops and crashes" end to end: SIGTERM to `dotnet build` during a slow RUN, during docker push
/// and during a hanging buildkite-agent (a stand-in script: there is no real agent here) ends the children, frees
/// lock and lease and records nothing; a lease holder on a simulated second host (its own UTS namespace, so its
/// leases name another host) killed mid-build is taken over within the TTL plus a poll; a build longer than the TTL
/// keeps its lease by renewing it. Short TTLs stand in for the defaults.
/// </summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class StopAndCrashTests : IntegrationTest
{
    private const string OtherHost = "ecrcache-sim-host-2";
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(6);
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(2);
    private static readonly string[] ShortLeases = { "-p:EcrCacheLeaseTtl=00:00:06", "-p:EcrCacheLeaseRenewInterval=00:00:02" };

    [TestMethod]
    [DataRow("TERM", 143, "SIGTERM")]
    [DataRow("HUP", 129, "SIGHUP")]
    [DataRow("QUIT", 1, "process exit")] // Ctrl+Break on Unix: MSBuild ends the process, which the step sees exiting
    public void StopSignalDuringSlowRun_StopsDockerBuild_FreesLockAndLease_RecordsNothing(string signal, int exitCode, string stoppedBy)
    {
        var ws = CreateWorkspace("Slow");
        var locks = Path.Combine(ws.Root, "locks");
        var nonce = Guid.NewGuid().ToString("N");
        using var build = ws.StartBuild(Workspace.RegistryProvider(Env.Registry).Concat(new[] { "-p:Nonce=" + nonce }), environment: new Dictionary<string, string?> { ["ECRCACHE_LOCK_DIR"] = locks });
        try
        {
            if (!build.WaitForOutput("SLOW STEP STARTED: " + nonce.ToUpperInvariant(), TimeSpan.FromMinutes(3)))
            {
                Assert.Fail("the slow RUN step never started" + build.WaitForExit(TimeSpan.FromSeconds(1)).Describe());
            }

            var tag = File.ReadAllText(ws.KeyPath).Trim()[..24];
            Assert.IsTrue(Processes("build", ws.Repository).Count > 0, "sanity: docker build runs");
            Assert.IsTrue(LockFiles(locks).Any(f => !IsFree(f)), "sanity: the per-image lock is held");
            Assert.IsTrue(ReadLease(ws.Repository, tag)?.GetProperty("released").GetBoolean() == false, "sanity: the lease is held");

            var result = Terminate(ws, build, signal);
            Assert.AreEqual(exitCode, result.ExitCode, "the process ends as the signal asks, after cleaning up" + result.Describe());
            StringAssert.Contains(result.Output, "EcrCache: stopped by " + stoppedBy + ";");
            Assert.IsTrue(WaitUntil(() => Processes("build", ws.Repository).Count == 0, TimeSpan.FromSeconds(5)), "docker build still running 5 s after the build ended: " + string.Join(" | ", Processes("build", ws.Repository)));
            Assert.IsFalse(result.Output.Contains("SLOW STEP FINISHED", StringComparison.Ordinal), "the RUN step must not have completed" + result.Describe());
            Assert.IsFalse(File.Exists(ws.StampPath), "no stamp after SIGTERM");
            Assert.IsTrue(LockFiles(locks).All(IsFree), "no lock left held");
            Assert.IsTrue(ReadLease(ws.Repository, tag)?.GetProperty("released").GetBoolean() != false, "no lease left held");
            Thread.Sleep(2000);
            Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count(t => t.EndsWith(":" + tag, StringComparison.Ordinal)), "no image under the key tag");
            Assert.IsFalse(ManifestExists(ws.Repository, tag), "nothing pushed under the key tag");
        }
        finally
        {
            build.KillTree();
        }
    }

    [TestMethod]
    public void SigtermDuringDockerPush_KillsIt_ReleasesTheLease()
    {
        var proxy = Track(new FaultProxy(Env.Registry)
        {
            Latency = TimeSpan.FromMinutes(2),
            Decide = (method, path) => path.Contains("/blobs/uploads/", StringComparison.Ordinal) && method == "PATCH" ? FaultKind.Latency : FaultKind.None,
        });
        var ws = CreateWorkspace();
        var locks = Path.Combine(ws.Root, "locks");
        ws.WriteFile("package.json", "{ \"name\": \"sample-root\", \"version\": \"1.0.0\", \"private\": true, \"workspaces\": [\"app\"], \"nonce\": \"" + Guid.NewGuid().ToString("N") + "\" }\n");
        using var build = ws.StartBuild(Workspace.RegistryProvider(proxy.Address), environment: new Dictionary<string, string?> { ["ECRCACHE_LOCK_DIR"] = locks });
        try
        {
            if (!build.WaitForOutput("The push refers to repository", TimeSpan.FromMinutes(3)))
            {
                Assert.Fail("docker push never started" + build.WaitForExit(TimeSpan.FromSeconds(1)).Describe());
            }

            var tag = File.ReadAllText(ws.KeyPath).Trim()[..24];
            Assert.IsTrue(WaitUntil(() => Processes("push", ws.Repository).Count > 0, TimeSpan.FromSeconds(20)), "sanity: docker push runs");
            var result = Terminate(ws, build);
            Assert.IsTrue(WaitUntil(() => Processes("push", ws.Repository).Count == 0, TimeSpan.FromSeconds(5)), "docker push still running: " + string.Join(" | ", Processes("push", ws.Repository)));
            Assert.IsFalse(File.Exists(ws.StampPath), "no stamp after SIGTERM" + result.Describe());
            Assert.IsFalse(File.Exists(ws.EnvFilePath), "no env file after SIGTERM");
            Assert.IsTrue(LockFiles(locks).All(IsFree), "no lock left held");
            Assert.IsTrue(ReadLease(ws.Repository, tag)?.GetProperty("released").GetBoolean() != false, "no lease left held");
        }
        finally
        {
            build.KillTree();
        }
    }

    [TestMethod]
    public void SigtermDuringHangingBuildkiteAgent_EndsTheAgentAndItsChild()
    {
        var ws = CreateWorkspace();
        var (path, agentPidFile, childPidFile) = ws.WriteHangingBuildkiteAgent();
        using var build = ws.StartBuild(new[] { "-p:EcrCacheMetadataKey=deps-image" }, environment: new Dictionary<string, string?> { ["PATH"] = path });
        try
        {
            if (!WaitUntil(() => File.Exists(agentPidFile) && File.Exists(childPidFile) && File.ReadAllText(agentPidFile).Trim().Length > 0, TimeSpan.FromMinutes(3)))
            {
                Assert.Fail("buildkite-agent never ran" + build.WaitForExit(TimeSpan.FromSeconds(1)).Describe());
            }

            var agent = int.Parse(File.ReadAllText(agentPidFile).Trim(), CultureInfo.InvariantCulture);
            var child = int.Parse(File.ReadAllText(childPidFile).Trim(), CultureInfo.InvariantCulture);
            Assert.IsTrue(IsRunning(agent), "sanity: the agent runs");
            Terminate(ws, build);
            Assert.IsTrue(WaitUntil(() => !IsRunning(agent) && !IsRunning(child), TimeSpan.FromSeconds(5)), "the agent (" + agent + ") or its child (" + child + ") outlived the build");
        }
        finally
        {
            build.KillTree();
        }
    }

    [TestMethod]
    public void LeaseHolderKilledOnAnotherHost_IsTakenOverWithinTheTtlPlusAPoll()
    {
        var (first, second, properties) = TwoHostsOfOneKey();
        using var holder = StartHolderOnOtherHost(first, properties);
        ChildProcess? waiter = null;
        try
        {

            waiter = second.StartBuild(properties, environment: new Dictionary<string, string?> { ["ECRCACHE_LOCK_DIR"] = Path.Combine(second.Root, "locks") });
            if (!WaitUntil(() => waiter.Output.Contains("on " + OtherHost + " (since", StringComparison.Ordinal) || waiter.HasExited, TimeSpan.FromMinutes(2)) || waiter.HasExited)
            {
                Assert.Fail("the second build never waited for the holder's lease" + waiter.WaitForExit(TimeSpan.FromSeconds(1)).Describe() + holder.WaitForExit(TimeSpan.FromSeconds(1)).Describe());
            }

            // The holder's host is lost: the build and its children die at once, releasing nothing.
            holder.KillTree();
            var clock = Stopwatch.StartNew();
            var tookOver = WaitUntil(() => waiter.Output.Contains("warning ECRC1320", StringComparison.Ordinal), TimeSpan.FromMinutes(2));
            var took = clock.Elapsed;
            Log($"the lease of the killed holder was taken over {took.TotalSeconds:0.0} s after it died (TTL {Ttl.TotalSeconds} s, poll {Poll.TotalSeconds} s)");
            if (!tookOver)
            {
                // (Describing a build waits for it, and kills it after the wait: only on the failure path.)
                Assert.Fail("never taken over" + waiter.WaitForExit(TimeSpan.FromSeconds(1)).Describe());
            }

            Assert.IsTrue(took <= Ttl + Poll + TimeSpan.FromSeconds(3), $"taken over {took.TotalSeconds:0.0} s after the holder died");

            var result = new BuildResult(waiter.WaitForExit(Workspace.BuildTimeout), second);
            result.AssertResult("built");
        }
        finally
        {
            holder.KillTree();
            waiter?.KillTree();
            waiter?.Dispose();
        }
    }

    [TestMethod]
    public void BuildLongerThanTheTtl_KeepsItsLease_NoSecondBuildStarts()
    {
        var (first, second, properties) = TwoHostsOfOneKey();
        using var holder = StartHolderOnOtherHost(first, properties);
        ChildProcess? waiter = null;
        try
        {

            var started = Stopwatch.StartNew();
            waiter = second.StartBuild(properties, environment: new Dictionary<string, string?> { ["ECRCACHE_LOCK_DIR"] = Path.Combine(second.Root, "locks") });
            var held = new BuildResult(holder.WaitForExit(Workspace.BuildTimeout), first);
            var waited = new BuildResult(waiter.WaitForExit(Workspace.BuildTimeout), second);
            Log($"holder {held.Result}, the other build {waited.Result} after {started.Elapsed.TotalSeconds:0.0} s");
            held.AssertResult("built");
            StringAssert.Contains(waited.Output, "on " + OtherHost + " (since", "the second build waited for the holder" + waited.Describe());
            Assert.IsFalse(waited.HasWarning("ECRC1320"), "the renewed lease was never taken over" + waited.Describe());
            Assert.AreNotEqual("built", waited.AssertSucceeded().Result, "no second build" + waited.Describe());
            Assert.AreEqual(held.Reference, waited.Reference);
        }
        finally
        {
            holder.KillTree();
            waiter?.KillTree();
            waiter?.Dispose();
        }
    }

    /// <summary>Two workspaces of the Slow project with one key (a nonce) and one repository, with short leases.</summary>
    private (Workspace First, Workspace Second, List<string> Properties) TwoHostsOfOneKey()
    {
        var repository = NewRepository();
        var nonce = Guid.NewGuid().ToString("N");
        var properties = Workspace.RegistryProvider(Env.Registry).Concat(ShortLeases).Concat(new[] { "-p:Nonce=" + nonce, "-p:SlowSeconds=20" }).ToList();
        return (CreateWorkspace("Slow", repository), CreateWorkspace("Slow", repository), properties);
    }

    /// <summary>Starts the first workspace's build as if on <see cref="OtherHost"/>; returns once its RUN step runs.</summary>
    private static ChildProcess StartHolderOnOtherHost(Workspace first, List<string> properties)
    {
        var holder = first.StartBuildOnHost(OtherHost, properties, new Dictionary<string, string?> { ["ECRCACHE_LOCK_DIR"] = Path.Combine(first.Root, "locks") })
            ?? throw new AssertInconclusiveException("unshare -u (a second host name) needs root on Linux");
        var nonce = properties.Single(p => p.StartsWith("-p:Nonce=", StringComparison.Ordinal)).Substring("-p:Nonce=".Length);
        if (!holder.WaitForOutput("SLOW STEP STARTED: " + nonce.ToUpperInvariant(), TimeSpan.FromMinutes(3)))
        {
            var described = holder.WaitForExit(TimeSpan.FromSeconds(1)).Describe();
            holder.Dispose();
            Assert.Fail("the holder's RUN step never started" + described);
        }

        return holder;
    }

    /// <summary>kill -SIGNAL, then the build must end within 30 s, failing.</summary>
    private CommandResult Terminate(Workspace ws, ChildProcess build, string signal = "TERM")
    {
        var kill = ChildProcess.Run("kill", new[] { "-" + signal, build.Id.ToString(CultureInfo.InvariantCulture) }, ws.Root, ws.ChildEnvironment(), TimeSpan.FromSeconds(10));
        Assert.AreEqual(0, kill.ExitCode, "kill -" + signal + " failed" + kill.Describe());
        var clock = Stopwatch.StartNew();
        var result = build.WaitForExit(TimeSpan.FromSeconds(30));
        Log($"dotnet build exited {clock.Elapsed.TotalSeconds:0.0} s after SIG{signal} (exit code {result.ExitCode})");
        Assert.IsFalse(result.TimedOut, "dotnet build did not exit within 30 s of SIG" + signal + result.Describe());
        Assert.AreNotEqual(0, result.ExitCode, "a stopped build must fail" + result.Describe());
        return result;
    }

    private static bool IsRunning(int pid) =>
        File.Exists("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat")
        && !File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat").Split(") ").Last().StartsWith('Z');

    private static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (condition())
            {
                return true;
            }

            Thread.Sleep(100);
        }

        return condition();
    }

    private static IEnumerable<string> LockFiles(string folder) =>
        Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*.lock").ToList() : new List<string>();

    /// <summary>flock(1) -n succeeds only when nobody holds the lock.</summary>
    private static bool IsFree(string lockFile) =>
        ChildProcess.Run("flock", new[] { "-n", lockFile, "true" }, Path.GetDirectoryName(lockFile)!, new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }, TimeSpan.FromSeconds(10)).ExitCode == 0;

    private static HttpResponseMessage GetManifest(HttpClient http, string repository, string reference)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://" + Env.Registry + "/v2/" + repository + "/manifests/" + reference);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.oci.image.manifest.v1+json"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.docker.distribution.manifest.v2+json"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.oci.image.index.v1+json"));
        return http.Send(request);
    }

    private static bool ManifestExists(string repository, string tag)
    {
        using var http = new HttpClient();
        using var response = GetManifest(http, repository, tag);
        return response.IsSuccessStatusCode;
    }

    /// <summary>The lease record of the registry's &lt;tag&gt;-lease manifest, or null.</summary>
    private static JsonElement? ReadLease(string repository, string tag)
    {
        using var http = new HttpClient();
        using var response = GetManifest(http, repository, tag + "-lease");
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }

        using var document = JsonDocument.Parse(response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
        return JsonDocument.Parse(document.RootElement.GetProperty("annotations").GetProperty("dev.ecrcache.lease").GetString()!).RootElement.Clone();
    }

    /// <summary>Running `docker VERB ...repository...` processes, from /proc.</summary>
    private static List<string> Processes(string verb, string repository)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _))
            {
                continue;
            }

            string[] argv;
            try
            {
                argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                continue;
            }

            if (argv.Length > 1 && argv[0].EndsWith("docker", StringComparison.Ordinal) && argv.Contains(verb)
                && argv.Any(a => a.Contains(repository, StringComparison.Ordinal)))
            {
                found.Add(Path.GetFileName(dir) + ": " + string.Join(" ", argv));
            }
        }

        return found;
    }
}
