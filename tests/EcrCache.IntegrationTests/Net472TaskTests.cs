using System.IO.Compression;
using System.Text.RegularExpressions;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>
/// The net472 task assembly of the packed nupkg, the one Visual Studio's MSBuild loads, executed under Mono by
/// tests/Net472Harness (loaded by path, dependencies only from its own folder, parameters as Sdk.targets passes them):
/// it must compute the tag the net8.0 assembly computes under `dotnet build`, and ensure the image against the local
/// provider. Mono is a CI prerequisite (build/install-prereqs.sh): without it these tests fail, they do not skip.
/// </summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class Net472TaskTests : IntegrationTest
{
    private const string Mono = "/usr/bin/mono";

    /// <summary>A run takes a second or two; docker builds FROM a local image only.</summary>
    private static readonly TimeSpan HarnessTimeout = TimeSpan.FromSeconds(60);

    private static readonly Regex KeyLine = new(@"EcrCache key: [0-9a-f]{64} \(tag ([0-9a-f]+)\)", RegexOptions.CultureInvariant);

    [TestMethod]
    public void TheNet472TaskUnderMonoComputesTheTagOfTheNet8Task()
    {
        var (project, repository) = CreateProject();
        var net8 = ChildProcess.Run(
            "dotnet",
            new[]
            {
                "build", project, "-t:ComputeCachedImageKey", "-nodeReuse:false", "--disable-build-servers", "-v:n",
                "-p:EcrCacheDockerPath=" + Env.Docker, "-p:EcrCacheRepository=" + repository,
            },
            Path.GetDirectoryName(project)!,
            Env.ChildEnvironment(),
            Workspace.BuildTimeout);
        Assert.AreEqual(0, net8.ExitCode, "the net8.0 key step failed" + net8.Describe());
        var net8Tag = KeyLine.Match(net8.Output).Groups[1].Value;
        Assert.AreNotEqual("", net8Tag, "no key line in the net8.0 build" + net8.Describe());

        var mono = RunHarness("key", project, repository);
        Assert.AreEqual(net8Tag, HarnessValue(mono, "tag"), "the net472 task under Mono computed another tag than net8.0" + mono.Describe());
    }

    [TestMethod]
    public void TheNet472TaskUnderMonoBuildsThenHitsLocally()
    {
        var (project, repository) = CreateProject();
        var key = HarnessValue(RunHarness("key", project, repository), "tag");

        var first = RunHarness("ensure", project, repository, out var retried);
        var firstResult = HarnessValue(first, "result");
        if (!(firstResult == "built" || (retried && firstResult == "hit-local")))
        {
            Assert.Fail("the first ensure gave " + firstResult + ", not built" + first.Describe()); // hit-local only if a hung run built it
        }

        Assert.AreEqual(repository + ":" + key, HarnessValue(first, "reference"), "the ensure keeps the key step's tag" + first.Describe());
        Assert.IsTrue(DockerHelper.ImageExists(repository + ":" + key), "the built image is in the daemon");

        var second = RunHarness("ensure", project, repository);
        Assert.AreEqual("hit-local", HarnessValue(second, "result"), second.Describe());
        Assert.AreEqual(repository + ":" + key, HarnessValue(second, "reference"), second.Describe());
    }

    /// <summary>A project folder the packed SDK builds (global.json, isolation files) and the harness reads: a
    /// Dockerfile FROM the services' base image and one CacheOn file.</summary>
    private (string Project, string Repository) CreateProject()
    {
        var directory = Path.Combine(TestRoot, "Net472Probe");
        Directory.CreateDirectory(directory);
        Workspace.WriteIsolationFiles(directory, Env.SdkVersion);
        File.WriteAllText(Path.Combine(directory, "Dockerfile"), "FROM " + Env.BaseImage + "\n");
        File.WriteAllText(Path.Combine(directory, "deps.lock"), "dependency 1.0.0\n");
        var project = Path.Combine(directory, "Net472Probe.proj");
        File.WriteAllText(project, "<Project Sdk=\"EcrCache.Sdk\">\n  <ItemGroup>\n    <CacheOn Include=\"deps.lock\" />\n  </ItemGroup>\n</Project>\n");
        return (project, NewRepository());
    }

    /// <summary>
    /// Runs the harness under Mono. Mono 6.8 (Debian) now and then never completes the task's awaited work (about one
    /// run in twenty under load: every thread idle, the main one blocked in the task's GetResult); such a hang is
    /// dumped (SIGQUIT prints Mono's thread stacks), logged, and the run is repeated once. <paramref name="retried"/>
    /// says whether it was.
    /// </summary>
    private CommandResult RunHarness(string mode, string project, string repository, out bool retried)
    {
        if (!File.Exists(Mono))
        {
            Assert.Fail(Mono + " is missing: build/install-prereqs.sh installs Mono (mono-runtime, mono-devel) to run the net472 task assembly.");
        }

        var arguments = new[] { HarnessPath(), TasksDirectory(), mode, project, Env.Docker, repository, "deps.lock" };
        retried = false;
        while (true)
        {
            using var child = ChildProcess.Start(Mono, arguments, Path.GetDirectoryName(project)!, Env.ChildEnvironment());
            if (!child.WaitForOutput("\n-never-printed-\n", HarnessTimeout) && !child.HasExited)
            {
                ChildProcess.Run("kill", new[] { "-QUIT", child.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, "/", Env.ChildEnvironment(), TimeSpan.FromSeconds(10));
                var hung = child.WaitForExit(TimeSpan.FromSeconds(3));
                Log("the harness hung under Mono (" + mode + ")" + (retried ? "" : "; running it once more") + hung.Describe(200));
                Assert.IsFalse(retried, "the harness hung under Mono twice (" + mode + ")" + hung.Describe());
                retried = true;
                continue;
            }

            var result = child.WaitForExit(TimeSpan.FromSeconds(30));
            Assert.AreEqual(0, result.ExitCode, "the net472 task failed under Mono (" + mode + ")" + result.Describe());
            return result;
        }
    }

    private CommandResult RunHarness(string mode, string project, string repository) => RunHarness(mode, project, repository, out _);

    /// <summary>tasks/net472 of the packed nupkg, extracted once per test.</summary>
    private string TasksDirectory()
    {
        var extracted = Path.Combine(TestRoot, "nupkg");
        if (!Directory.Exists(extracted))
        {
            ZipFile.ExtractToDirectory(Env.PackagePath, extracted);
        }

        var tasks = Path.Combine(extracted, "tasks", "net472");
        Assert.IsTrue(File.Exists(Path.Combine(tasks, "EcrCache.Tasks.dll")), "no tasks/net472/EcrCache.Tasks.dll in " + Env.PackagePath);
        return tasks;
    }

    /// <summary>The harness as the solution build leaves it (this test's configuration first).</summary>
    private string HarnessPath()
    {
#if DEBUG
        var configurations = new[] { "Debug", "Release" };
#else
        var configurations = new[] { "Release", "Debug" };
#endif
        foreach (var configuration in configurations)
        {
            var path = Path.Combine(Env.RepoRoot, "tests", "Net472Harness", "bin", configuration, "net472", "Net472Harness.exe");
            if (File.Exists(path))
            {
                return path;
            }
        }

        Assert.Fail("tests/Net472Harness is not built: build EcrCache.sln (build/test.sh does).");
        return "";
    }

    private static string HarnessValue(CommandResult result, string name)
    {
        var match = Regex.Match(result.Output, "^harness: " + name + "=(.*)$", RegexOptions.Multiline | RegexOptions.CultureInvariant);
        Assert.IsTrue(match.Success, "the harness printed no " + name + result.Describe());
        return match.Groups[1].Value.TrimEnd('\r');
    }
}
