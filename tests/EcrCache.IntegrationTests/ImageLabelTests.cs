using System.Security.Cryptography;
using System.Text.Json;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>
/// The labels on every built image, read back with docker inspect after a pull from the open docker-registry, the
/// layer cache across a rebuild with a new created time, and ExplainCachedImageKey with EcrCacheExplainImage.
/// </summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class ImageLabelTests : IntegrationTest
{
    private static Dictionary<string, string> Labels(string reference)
    {
        var inspect = DockerHelper.Run("image", "inspect", "--format", "{{json .Config.Labels}}", reference);
        Assert.AreEqual(0, inspect.ExitCode, inspect.Describe());
        return JsonSerializer.Deserialize<Dictionary<string, string>>(inspect.Output.Split('\n').Last(l => l.TrimStart().StartsWith("{", StringComparison.Ordinal))) ?? new Dictionary<string, string>();
    }

    [TestMethod]
    public void LabelsOnThePushedImage_ARebuildKeepsTheLayers_AndExplainImageSaysHitOrMiss()
    {
        var ws = CreateWorkspace();
        var registryArgs = Workspace.RegistryProvider(Env.Registry);
        var environment = new Dictionary<string, string?>
        {
            ["BUILDKITE_COMMIT"] = "0123456789abcdef0123456789abcdef01234567",
            ["BUILDKITE_REPO"] = "https://ci-user:s3cr3t-token@git.example.com/org/app.git",
        };
        var built = ws.Build(registryArgs, environment: environment);
        var reference = built.AssertResult("built");
        var key = File.ReadAllText(ws.KeyPath).Trim();

        // Another machine: pull it, and the labels came with it.
        DockerHelper.RemoveImages(new[] { reference, built.Image + ":latest" });
        var pull = DockerHelper.Run("pull", reference);
        Assert.AreEqual(0, pull.ExitCode, pull.Describe());
        var labels = Labels(reference);
        Assert.AreEqual(key, labels["io.ecrcache.key"], "the full key");
        var manifestDigest = "sha256:" + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(ws.KeyManifestPath))).ToLowerInvariant();
        Assert.AreEqual(manifestDigest, labels["io.ecrcache.inputs"], "the digest of key-manifest.json");
        Assert.AreEqual("0123456789abcdef0123456789abcdef01234567", labels["org.opencontainers.image.revision"]);
        Assert.AreEqual("https://git.example.com/org/app.git", labels["org.opencontainers.image.source"], "credentials stripped");
        var created = DateTime.Parse(labels["org.opencontainers.image.created"], null, System.Globalization.DateTimeStyles.AdjustToUniversal);
        Assert.IsTrue(Math.Abs((DateTime.UtcNow - created).TotalMinutes) < 30, labels["org.opencontainers.image.created"]);
        Assert.IsFalse(built.Output.Contains("s3cr3t-token", StringComparison.Ordinal), "the clone URL's token was logged");

        // A rebuild of the same key a second later (local provider, nothing local under that name): a new created
        // label, yet the RUN step comes from the layer cache, so /built-at is the first build's.
        Thread.Sleep(1100);
        var rebuilt = ws.Build(Array.Empty<string>(), environment: environment);
        var localReference = rebuilt.AssertResult("built");
        Assert.AreEqual(key, File.ReadAllText(ws.KeyPath).Trim(), "labels never enter the key");
        Assert.AreNotEqual(labels["org.opencontainers.image.created"], Labels(localReference)["org.opencontainers.image.created"]);
        Assert.AreEqual(DockerHelper.Cat(reference, "/built-at"), DockerHelper.Cat(localReference, "/built-at"), "the RUN step was run again: the label broke the layer cache" + rebuilt.Describe());

        // Explain against the local copy: a hit.
        var explainArgs = new[] { "-p:EcrCacheExplainImage=" + reference }.Concat(registryArgs).ToArray();
        var hit = ws.Build(explainArgs, target: "ExplainCachedImageKey");
        hit.AssertSucceeded();
        StringAssert.Contains(hit.Output, "EcrCache image " + reference + " (local daemon):");
        StringAssert.Contains(hit.Output, "this checkout would hit it");

        // Against the registry, not local: the manifest and config are read, no layer is pulled.
        DockerHelper.RemoveImages(new[] { reference });
        var remote = ws.Build(explainArgs, target: "ExplainCachedImageKey");
        remote.AssertSucceeded();
        StringAssert.Contains(remote.Output, "(registry " + Env.Registry + ", manifest sha256:");
        StringAssert.Contains(remote.Output, "this checkout would hit it");
        StringAssert.Contains(remote.Output, "org.opencontainers.image.revision: 0123456789abcdef0123456789abcdef01234567");
        Assert.IsFalse(DockerHelper.ImageExists(reference), "explaining pulled the image");

        // An input changes: a miss, and what differs from the image's inputs (its manifest is still in obj/).
        ws.WriteFile("app/package.json", ws.ReadFile("app/package.json") + " ");
        var miss = ws.Build(explainArgs, target: "ExplainCachedImageKey");
        miss.AssertSucceeded();
        StringAssert.Contains(miss.Output, "this checkout would miss it");
        var changes = miss.Output.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("- ", StringComparison.Ordinal)).ToList();
        CollectionAssert.Contains(changes, "- file app/package.json changed", miss.Output);
    }

    [TestMethod]
    public void ExplainImage_NotFoundAndUnlabelled_AreCodedErrors()
    {
        var ws = CreateWorkspace();
        var missing = ws.Build(new[] { "-p:EcrCacheExplainImage=" + Env.Registry + "/" + ws.Repository + ":0000000000000000deadbeef" }, target: "ExplainCachedImageKey");
        missing.AssertFailedWith("ECRC1333");

        var unlabelled = ws.Build(new[] { "-p:EcrCacheExplainImage=" + Env.BaseImage }, target: "ExplainCachedImageKey");
        unlabelled.AssertFailedWith("ECRC1334");

        var bad = ws.Build(new[] { "-p:EcrCacheExplainImage=Not A Reference" }, target: "ExplainCachedImageKey");
        bad.AssertFailedWith("ECRC1063");
    }
}
