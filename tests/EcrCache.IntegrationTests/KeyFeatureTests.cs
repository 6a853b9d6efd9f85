using System.Text.Json;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>Base-image digests, ExplainCachedImageKey and Compose services through `dotnet build` of the packed SDK.</summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class KeyFeatureTests : IntegrationTest
{
    private static List<(string Kind, string Name, string Hash)> Manifest(Workspace ws)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(ws.KeyManifestPath));
        return doc.RootElement.GetProperty("entries").EnumerateArray()
            .Select(e => (e.GetProperty("kind").GetString()!, e.GetProperty("name").GetString()!, e.GetProperty("hash").GetString()!))
            .ToList();
    }

    [TestMethod]
    public void TheBaseImageDigestIsInTheKey()
    {
        var ws = CreateWorkspace();
        ws.Build().AssertResult("built");
        var entry = Manifest(ws).Single(e => e.Kind == "base-image");
        Assert.AreEqual(Env.BaseImage + " linux/amd64", entry.Name);
        StringAssert.StartsWith(entry.Hash, "sha256:");
        Assert.IsTrue(File.Exists(Path.Combine(ws.IntermediateDirectory, "base-images.json")), "resolved digests are cached for the no-op path");
    }

    [TestMethod]
    public void EcrCachePlatformEntersTheKey_AndAListNeedsBuildx()
    {
        var ws = CreateWorkspace();
        var daemon = ws.Build(Array.Empty<string>(), target: "ComputeCachedImageKey");
        daemon.AssertSucceeded();
        var daemonKey = File.ReadAllText(ws.KeyPath);
        CollectionAssert.Contains(Manifest(ws), ("platform", "", "linux/amd64"));

        var arm = ws.Build(new[] { "-p:EcrCachePlatform=linux/arm64" }, target: "ComputeCachedImageKey");
        arm.AssertSucceeded();
        Assert.AreNotEqual(daemonKey, File.ReadAllText(ws.KeyPath));
        CollectionAssert.Contains(Manifest(ws), ("platform", "", "linux/arm64"));

        var multi = ws.Build(Workspace.RegistryProvider(Env.Registry).Append("-p:EcrCachePlatform=linux/amd64%2Clinux/arm64") /* a comma on the command line is %2C */);
        Assert.AreNotEqual(0, multi.ExitCode, multi.Describe());
        Assert.IsTrue(multi.HasError("ECRC1210"), "this machine's docker has no buildx" + multi.Describe());
    }

    [TestMethod]
    public void ExplainPrintsTheManifestAndExactlyTheChangedFile_WithoutDocker()
    {
        var ws = CreateWorkspace();
        var built = ws.Build(environment: new Dictionary<string, string?> { ["SAMPLE_FLAVOUR"] = "secret-ish-value" });
        var reference = built.AssertResult("built");

        ws.WriteFile("app/package.json", ws.ReadFile("app/package.json") + " ");
        var explain = ws.Build(
            new[] { "-p:EcrCacheDockerPath=/nonexistent/docker", "-p:BaseImage=" + Env.BaseImage, "-p:EcrCacheRepository=" + ws.Repository },
            target: "ExplainCachedImageKey",
            environment: new Dictionary<string, string?> { ["SAMPLE_FLAVOUR"] = "secret-ish-value" },
            defaults: false);
        explain.AssertSucceeded();
        var output = explain.Output;
        StringAssert.Contains(output, "changes since the last ensured key " + reference.Substring(reference.LastIndexOf(':') + 1) + ":");
        var changes = output.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("- ", StringComparison.Ordinal)).ToList();
        CollectionAssert.AreEqual(new[] { "- file app/package.json changed" }, changes, output);
        StringAssert.Contains(output, "base-image " + Env.BaseImage + " linux/amd64 = sha256:");
        StringAssert.Contains(output, "build-arg SAMPLE_FLAVOUR = sha256 of the value (not shown)");
        Assert.IsFalse(output.Contains("secret-ish-value", StringComparison.Ordinal), "build-arg values never appear");

        // The next EnsureCachedImage misses and logs the same reason at normal verbosity.
        var miss = ws.Build(environment: new Dictionary<string, string?> { ["SAMPLE_FLAVOUR"] = "secret-ish-value" });
        miss.AssertResult("built");
        StringAssert.Contains(miss.Output, "- file app/package.json changed");
    }

    [TestMethod]
    public void AComposeServicesBuildSectionIsHonoured()
    {
        var ws = CreateWorkspace("Compose");
        var env = new Dictionary<string, string?> { ["BASE_IMAGE"] = Env.BaseImage };
        var build = ws.Build(environment: env);
        var reference = build.AssertResult("built");
        Assert.AreEqual("greeting=hello-dotenv", DockerHelper.Cat(reference, "/greeting"), "args come from the Compose file, interpolated from .env");
        Assert.AreEqual("base", DockerHelper.Cat(reference, "/base"));
        Assert.AreNotEqual(0, DockerHelper.Run("run", "--rm", "--network", "none", reference, "cat", "/debug").ExitCode, "the Compose target (runtime) was built, not the last stage");

        var manifest = Manifest(ws);
        CollectionAssert.Contains(manifest, ("target", "", "runtime"));
        CollectionAssert.AreEquivalent(new[] { "BASE_IMAGE", "GREETING" }, manifest.Where(e => e.Kind == "build-arg").Select(e => e.Name).ToArray());
        Assert.AreEqual(Env.BaseImage + " linux/amd64", manifest.Single(e => e.Kind == "base-image").Name);

        // An interpolated value from the environment changes the arg and so the key.
        env["GREETING_WHO"] = "environment";
        var changed = ws.Build(environment: env);
        var changedRef = changed.AssertResult("built");
        Assert.AreNotEqual(reference, changedRef);
        Assert.AreEqual("greeting=hello-environment", DockerHelper.Cat(changedRef, "/greeting"));
        StringAssert.Contains(changed.Output, "build arg GREETING changed");

        // An explicit property that disagrees with the Compose file is an error, not a silent choice.
        var conflict = ws.Build(new[] { "-p:EcrCacheTarget=debug" }, environment: env);
        Assert.AreNotEqual(0, conflict.ExitCode, conflict.Describe());
        Assert.IsTrue(conflict.HasError("ECRC1026"), conflict.Describe());
    }
}
