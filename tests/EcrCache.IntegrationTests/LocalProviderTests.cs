using System.Text.Json;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>The embedded default provider: the local Docker daemon is the only store.</summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class LocalProviderTests : IntegrationTest
{
    [TestMethod]
    public void MissBuildsThenSecondRunIsALocalHit()
    {
        var ws = CreateWorkspace();

        var first = ws.Build();
        var reference = first.AssertResult("built");
        Log($"miss: {reference} in {first.Command.Elapsed.TotalSeconds:0.0} s");
        Assert.AreEqual(ws.Repository, first.Image, "the local provider names the image after EcrCacheRepository alone");
        StringAssert.Matches(first.Tag, new System.Text.RegularExpressions.Regex("^[0-9a-f]{12,64}$"), "the tag is (a prefix of) the hex key");

        // The env file is sourceable by a POSIX shell and exports the reference plus image and tag separately.
        var sourced = Shell.Bash($"source '{ws.EnvFilePath}' && printf '%s\\n' \"$BUILDKITE_PLUGIN_DOCKER_IMAGE\" \"$BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE\" \"$BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_TAG\"");
        CollectionAssert.AreEqual(new[] { reference, ws.Repository, first.Tag }, sourced, "values read back by bash from " + ws.EnvFilePath);

        // The image is in the daemon, and so is <repository>:latest (the same image).
        var id = DockerHelper.ImageId(reference);
        Assert.IsNotNull(id, reference + " is not in the local daemon after a miss");
        Assert.AreEqual(id, DockerHelper.ImageId(ws.Repository + ":latest"), "the latest tag should point at the built image");

        // Key files and the stamp.
        var key = File.ReadAllText(ws.KeyPath).Trim();
        Assert.IsTrue(key.StartsWith(first.Tag, StringComparison.Ordinal), $"key.txt ({key}) should start with the tag {first.Tag}");
        using (var stamp = JsonDocument.Parse(File.ReadAllText(ws.StampPath)))
        {
            Assert.AreEqual(reference, stamp.RootElement.GetProperty("reference").GetString());
            Assert.AreEqual("built", stamp.RootElement.GetProperty("result").GetString());
            Assert.AreEqual(key, stamp.RootElement.GetProperty("key").GetString());
        }

        using (var manifest = JsonDocument.Parse(File.ReadAllText(ws.KeyManifestPath)))
        {
            var names = manifest.RootElement.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
            CollectionAssert.Contains(names, "app/package.json", "CacheOn files are listed in key-manifest.json");
            CollectionAssert.Contains(names, "package.json");
            Assert.IsTrue(names.Any(n => n!.StartsWith("app/version.json", StringComparison.Ordinal)), "the JsonPath input is listed: " + string.Join(", ", names));
        }

        // Nothing changed: a local hit, same reference, nothing built.
        var second = ws.Build();
        Assert.AreEqual(reference, second.AssertResult("hit-local"));
        Log($"hit: {reference} in {second.Command.Elapsed.TotalSeconds:0.0} s");
        Assert.IsFalse(second.Output.Contains("docker build", StringComparison.Ordinal) || second.Output.Contains("Building with", StringComparison.Ordinal), "a local hit must not build" + second.Describe());
        Assert.AreEqual(id, DockerHelper.ImageId(reference), "a local hit must not replace the image");
    }

    /// <summary>The variable the Buildkite agent sets in every job.</summary>
    private static Dictionary<string, string?> InBuildkite() => new(StringComparer.Ordinal) { ["BUILDKITE"] = "true" };

    [TestMethod]
    public void InABuildkiteJobTheDefaultLocalProviderWarnsOncePerBuild()
    {
        var ws = CreateWorkspace();
        // One build that ensures the image from two instances of the project (two EnsureCachedImage runs).
        ws.WriteFile("Both.proj", """
            <Project>
              <Target Name="EnsureBoth">
                <MSBuild Projects="Sample.proj" Targets="EnsureCachedImage" Properties="Instance=1" />
                <MSBuild Projects="Sample.proj" Targets="EnsureCachedImage" Properties="Instance=2" />
              </Target>
            </Project>
            """);
        var warningsLog = Path.Combine(ws.Root, "warnings.log");
        var both = ws.Dotnet(new[] { "build", "Both.proj", "-t:EnsureBoth", "-nodeReuse:false", "--disable-build-servers", "-v:n", "-flp:logfile=" + warningsLog + ";warningsonly;NoSummary" }
            .Concat(ws.DefaultProperties()), InBuildkite());
        Assert.AreEqual(0, both.ExitCode, both.Describe());
        var warnings = File.ReadAllLines(warningsLog);
        Assert.AreEqual(2, warnings.Count(l => l.Contains("warning ECRC1004", StringComparison.Ordinal)), "sanity: both instances ran the task (each warns about the unset SAMPLE_FLAVOUR)\n" + string.Join("\n", warnings));
        var local = warnings.Where(l => l.Contains("warning ECRC1030", StringComparison.Ordinal)).ToList();
        Assert.AreEqual(1, local.Count, "ECRC1030 once per build\n" + string.Join("\n", warnings));
        StringAssert.Contains(local[0], "with EcrCacheProvider=local (the default: EcrCacheProvider is not set), so the image is cached only in this agent's Docker daemon");
        StringAssert.Contains(local[0], "Set EcrCacheProvider to a shared store (ecr, gar, gcr, registry, s3 or directory)");
        StringAssert.Contains(local[0], "EcrCacheWarnOnLocalInBuildkite=false");

        // Outside a Buildkite job nothing is said.
        var outside = ws.Build();
        outside.AssertResult("hit-local");
        Assert.IsFalse(outside.HasWarning("ECRC1030"), outside.Describe());
    }

    [TestMethod]
    public void InABuildkiteJobExplicitLocalStillWarns_UnlessTurnedOff()
    {
        var ws = CreateWorkspace();
        var chosen = ws.Build(new[] { "-p:EcrCacheProvider=local" }, environment: InBuildkite());
        chosen.AssertResult("built");
        StringAssert.Contains(chosen.Output, "warning ECRC1030: This build runs in a Buildkite job (BUILDKITE=true) with EcrCacheProvider=local, so", chosen.Describe());

        foreach (var off in new[] { "-p:EcrCacheWarnOnLocalInBuildkite=false", "-warnAsMessage:ECRC1030", "-p:MSBuildWarningsAsMessages=ECRC1030" })
        {
            var quiet = ws.Build(new[] { "-p:EcrCacheProvider=local", off }, environment: InBuildkite());
            quiet.AssertResult("hit-local");
            Assert.IsFalse(quiet.HasWarning("ECRC1030"), off + " turns the warning off" + quiet.Describe());
        }

        // Not for the key-only target: it caches nothing.
        var key = ws.Build(Array.Empty<string>(), target: "ComputeCachedImageKey", environment: InBuildkite()).AssertSucceeded();
        Assert.IsFalse(key.HasWarning("ECRC1030"), key.Describe());
    }
}
