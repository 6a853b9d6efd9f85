using System.Text.RegularExpressions;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>
/// What a user sees of a build in a CI log: `dotnet build` without -v and not on a terminal (the console logger at
/// minimal verbosity shows only high-importance lines and errors), against the real dockerd and registry.
/// </summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class ProgressTests : IntegrationTest
{
    private static readonly Regex ResultLine = new(@"^  EcrCache: \S+ \(built\) in [0-9.]+ s: key [0-9.]+ s, lookup [0-9.]+ s, build [0-9.]+ s, push [0-9.]+ s\r?$", RegexOptions.Multiline);

    /// <summary>A Dockerfile whose RUN is new to BuildKit's layer cache (the nonce) and takes two seconds.</summary>
    private static string SlowDockerfile(string nonce, string run = "sleep 2") =>
        "ARG BASE_IMAGE=ecrcache/busybox:1\nFROM ${BASE_IMAGE}\nCOPY package.json /src/\nRUN echo \"progress " + nonce + "\" && " + run + "\n";

    [TestMethod]
    public void AMissShowsEachStepWithItsDurationTheDecisionAndThePhases()
    {
        var ws = CreateWorkspace();
        var nonce = Guid.NewGuid().ToString("N");
        ws.WriteFile("Dockerfile", SlowDockerfile(nonce));
        var build = ws.Build(Workspace.RegistryProvider(Env.Registry), verbosity: null);
        build.AssertResult("built");
        var output = build.Output;

        StringAssert.Contains(output, "  EcrCache: Cache miss for " + build.Reference + " (no earlier key here): building.", build.Describe());
        StringAssert.Matches(output, new Regex(@"^  EcrCache: \[1/3\] FROM \S+: (cached|done in [0-9.]+ s)\r?$", RegexOptions.Multiline), build.Describe());
        StringAssert.Matches(output, new Regex(@"^  EcrCache: \[2/3\] COPY package.json /src/: (cached|done in [0-9.]+ s)\r?$", RegexOptions.Multiline), build.Describe());
        var run = "  EcrCache: [3/3] RUN echo \"progress " + nonce + "\" && sleep 2";
        var start = output.IndexOf(run + "\n", StringComparison.Ordinal);
        Assert.IsTrue(start >= 0, "the two-second step's start line" + build.Describe());
        var end = Regex.Match(output, "^" + Regex.Escape(run) + @": done in (2|3)\.[0-9] s\r?$", RegexOptions.Multiline);
        Assert.IsTrue(end.Success && end.Index > start, "the step's end line with BuildKit's duration, after its start" + build.Describe());
        Assert.IsTrue(ResultLine.IsMatch(output), "the result line with the phases" + build.Describe());

        // docker's own lines stay at normal importance: not shown without -v.
        Assert.IsFalse(Regex.IsMatch(output, @"^\s*#\d+ ", RegexOptions.Multiline), "no raw BuildKit lines at the default verbosity" + build.Describe());
    }

    [TestMethod]
    public void AFailingRunShowsWhatItPrintedAndIsAnErrorAtItsDockerfileLine()
    {
        var ws = CreateWorkspace();
        var printed = "compiler says: missing semicolon " + Guid.NewGuid().ToString("N");
        ws.WriteFile("Dockerfile", SlowDockerfile(Guid.NewGuid().ToString("N"), "echo '" + printed + "' >&2 && exit 3"));
        var build = ws.Build(Array.Empty<string>(), verbosity: null);
        build.AssertFailedWith("ECRC1204");
        var dockerfile = Path.Combine(ws.ProjectDirectory, "Dockerfile");

        // The step's stdout ("progress ...") and stderr reach BuildKit's log in either order, so the quoted last
        // lines may end with either.
        StringAssert.Contains(build.Output, "    " + printed, "the step's own output, at high importance" + build.Describe());
        StringAssert.Matches(build.Output, new Regex("^" + Regex.Escape(dockerfile) + @"\(4,1\): error ECRC1204: RUN echo .* failed with exit code 3 \(last output: [^)]*" + Regex.Escape(printed) + @"[^)]*\)\.", RegexOptions.Multiline), build.Describe());
        Assert.IsTrue(build.Output.IndexOf(printed, StringComparison.Ordinal) < build.Output.IndexOf("error ECRC1204", StringComparison.Ordinal), "the output comes before the error" + build.Describe());
        Assert.IsFalse(Regex.IsMatch(build.Output, @"Sdk\.targets\(\d+,\d+\): .*error", RegexOptions.Multiline), "no error points at Sdk.targets" + build.Describe());
    }

    [TestMethod]
    public void TheLegacyBuildersFailingStepIsLocatedToo()
    {
        const string modernClient = "/usr/local/bin/docker";
        if (!File.Exists(modernClient))
        {
            Assert.Inconclusive(modernClient + " (a docker 23+ client without the buildx plugin) is not installed on this machine.");
        }

        var ws = CreateWorkspace();
        if (ChildProcess.Run(modernClient, new[] { "buildx", "version" }, ws.Root, ws.ChildEnvironment(), TimeSpan.FromMinutes(1)).ExitCode == 0)
        {
            Assert.Inconclusive(modernClient + " has the buildx plugin here, so it builds with BuildKit.");
        }

        var printed = "legacy says " + Guid.NewGuid().ToString("N");
        ws.WriteFile("Dockerfile", SlowDockerfile(Guid.NewGuid().ToString("N"), "echo '" + printed + "' >&2 && exit 5"));
        var build = ws.Build(new[] { "-p:EcrCacheDockerPath=" + modernClient }, verbosity: null);
        build.AssertFailedWith("ECRC1204");
        var dockerfile = Path.Combine(ws.ProjectDirectory, "Dockerfile");
        StringAssert.Matches(build.Output, new Regex(@"^  EcrCache: Step 4/\d+ : RUN echo", RegexOptions.Multiline), "the legacy builder's step lines" + build.Describe());
        StringAssert.Contains(build.Output, "    " + printed, build.Describe());
        StringAssert.Matches(build.Output, new Regex("^" + Regex.Escape(dockerfile) + @"\(4,1\): error ECRC1204: RUN echo .* failed with exit code 5 ", RegexOptions.Multiline), build.Describe());
    }

    [TestMethod]
    public void QuietShowsOnlyTheResultLine()
    {
        var ws = CreateWorkspace();
        ws.WriteFile("Dockerfile", SlowDockerfile(Guid.NewGuid().ToString("N"), "true"));
        var build = ws.Build(new[] { "-p:EcrCacheProgress=quiet" }, verbosity: null);
        var reference = build.AssertResult("built");
        var ours = build.Output.Split('\n').Where(l => l.Contains("EcrCache", StringComparison.Ordinal) || l.Contains("docker", StringComparison.Ordinal)).ToList();
        Assert.AreEqual(1, ours.Count, "only the result line: " + string.Join(" | ", ours) + build.Describe());
        StringAssert.StartsWith(ours[0], "  EcrCache: " + reference + " (built) in ");

        var bad = ws.Build(new[] { "-p:EcrCacheProgress=verbose" }, verbosity: null);
        Assert.IsTrue(bad.HasError("ECRC1240"), bad.Describe());
    }

    [TestMethod]
    public void InABuildkiteJobDockersOutputIsACollapsedGroup_ExpandedOnFailure()
    {
        // No buildkite-agent here: Buildkite itself only reads the markers from the log, which is what is checked.
        var ws = CreateWorkspace();
        var buildkite = new Dictionary<string, string?> { ["BUILDKITE"] = "true" };
        ws.WriteFile("Dockerfile", SlowDockerfile(Guid.NewGuid().ToString("N"), "true"));
        var build = ws.Build(Workspace.RegistryProvider(Env.Registry), verbosity: null, environment: buildkite);
        var reference = build.AssertResult("built");
        var group = Regex.Match(build.Output, "^--- :docker: EcrCache: building " + Regex.Escape(reference) + @"\r?$", RegexOptions.Multiline);
        Assert.IsTrue(group.Success, "the group marker at the start of a line" + build.Describe());
        Assert.IsTrue(group.Index < build.Output.IndexOf("EcrCache: [3/3] RUN", StringComparison.Ordinal), "the group opens before the steps" + build.Describe());
        StringAssert.Matches(build.Output, new Regex("^--- :docker: EcrCache: pushing " + Regex.Escape(reference) + @"\r?$", RegexOptions.Multiline), build.Describe());
        Assert.IsFalse(build.Output.Contains("^^^ +++", StringComparison.Ordinal), build.Describe());

        ws = CreateWorkspace();
        ws.WriteFile("Dockerfile", SlowDockerfile(Guid.NewGuid().ToString("N"), "exit 7"));
        var failed = ws.Build(Array.Empty<string>(), verbosity: null, environment: buildkite);
        failed.AssertFailedWith("ECRC1204");
        var opened = Regex.Match(failed.Output, @"^--- :docker: EcrCache: building \S+\r?$", RegexOptions.Multiline);
        var expanded = Regex.Match(failed.Output, @"^\^\^\^ \+\+\+\r?$", RegexOptions.Multiline);
        Assert.IsTrue(opened.Success && expanded.Success && expanded.Index > opened.Index, "the failed build's group is expanded" + failed.Describe());

        var off = ws.Build(new[] { "-p:EcrCacheBuildkiteLogGroups=false" }, verbosity: null, environment: buildkite);
        off.AssertFailedWith("ECRC1204");
        Assert.IsFalse(off.Output.Contains("--- :docker:", StringComparison.Ordinal) || off.Output.Contains("^^^ +++", StringComparison.Ordinal), off.Describe());
    }
}
