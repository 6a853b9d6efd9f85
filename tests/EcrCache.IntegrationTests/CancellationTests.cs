using System.Diagnostics;
using System.Text;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>Ctrl+C during `docker build`: MSBuild cancels the task, which must kill docker and record nothing.</summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class CancellationTests : IntegrationTest
{
    [TestMethod]
    public void SigintDuringDockerBuildStopsEverythingAndRecordsNothing()
    {
        var ws = CreateWorkspace("Slow");
        var nonce = Guid.NewGuid().ToString("N");
        using var build = ws.StartBuild(new[] { "-p:Nonce=" + nonce });
        try
        {
            // Wait until docker is inside the RUN step that sleeps for 60 s.
            // (The step's output is upper-cased by tr so that it cannot be confused with the echoed RUN line.)
            if (!build.WaitForOutput("SLOW STEP STARTED: " + nonce.ToUpperInvariant(), TimeSpan.FromMinutes(3)))
            {
                Assert.Fail("the slow RUN step never started" + build.WaitForExit(TimeSpan.FromSeconds(1)).Describe());
            }

            Assert.IsTrue(DockerBuildProcesses(ws.Repository).Count > 0, "sanity: a docker build process should be running now");

            build.AssertSigintNotIgnored();
            var kill = ChildProcess.Run("kill", new[] { "-INT", build.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, ws.Root, ws.ChildEnvironment(), TimeSpan.FromSeconds(10));
            Assert.AreEqual(0, kill.ExitCode, "kill -INT failed" + kill.Describe());
            var clock = Stopwatch.StartNew();
            var result = build.WaitForExit(TimeSpan.FromSeconds(30));
            Log($"dotnet build exited {clock.Elapsed.TotalSeconds:0.0} s after SIGINT (exit code {result.ExitCode})");
            Assert.IsFalse(result.TimedOut, "dotnet build did not exit within 30 s of SIGINT" + result.Describe());
            Assert.AreNotEqual(0, result.ExitCode, "a cancelled build must fail" + result.Describe());
            Assert.IsFalse(result.Output.Contains("SLOW STEP FINISHED", StringComparison.Ordinal), "the RUN step must not have completed" + result.Describe());

            // docker build must be gone (give the kernel a moment to reap), and nothing recorded.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            List<string> leftovers;
            while ((leftovers = DockerBuildProcesses(ws.Repository)).Count > 0 && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(200);
            }

            Assert.AreEqual(0, leftovers.Count, "docker build still running after the cancelled build: " + string.Join(" | ", leftovers));
            Assert.IsFalse(File.Exists(ws.StampPath), "a cancelled build must not write ensured.json");
            Thread.Sleep(2000);
            Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count, "a cancelled build must not leave the image tag: " + string.Join(", ", DockerHelper.TagsOf(ws.Repository)));
        }
        finally
        {
            build.KillTree();
        }
    }

    /// <summary>Command lines of running processes that look like `docker ... build ... REPOSITORY`.</summary>
    private static List<string> DockerBuildProcesses(string repository)
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
                argv = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "cmdline"))).Split('\0', StringSplitOptions.RemoveEmptyEntries);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                continue;
            }

            if (argv.Length > 0 && argv[0].Contains("docker", StringComparison.Ordinal) && argv.Contains("build")
                && argv.Any(a => a.Contains(repository, StringComparison.Ordinal)))
            {
                found.Add(Path.GetFileName(dir) + ": " + string.Join(" ", argv));
            }
        }

        return found;
    }
}
