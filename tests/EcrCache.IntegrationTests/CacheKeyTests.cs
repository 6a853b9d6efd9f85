using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>What enters the content key (and so the tag) and what does not.</summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class CacheKeyTests : IntegrationTest
{
    [TestMethod]
    public void EditingACacheOnFileGivesANewTagAndABuild()
    {
        var ws = CreateWorkspace();
        var before = ws.Build().AssertResult("built");

        ws.WriteFile("app/package.json", ws.ReadFile("app/package.json").Replace("\"1.3.0\"", "\"1.3.1\"", StringComparison.Ordinal));
        var after = ws.Build();
        var reference = after.AssertResult("built");
        Assert.AreNotEqual(before, reference, "a CacheOn file changed, so the tag must change");
        Assert.IsTrue(DockerHelper.ImageExists(reference));

        // Back to the original content: the original tag, still in the daemon.
        ws.WriteFile("app/package.json", ws.ReadFile("app/package.json").Replace("\"1.3.1\"", "\"1.3.0\"", StringComparison.Ordinal));
        Assert.AreEqual(before, ws.Build().AssertResult("hit-local"));
    }

    [TestMethod]
    public void ChangingABuildArgGivesANewTagAndTheValueReachesTheImage()
    {
        var ws = CreateWorkspace();
        var alpha = ws.Build(environment: new Dictionary<string, string?> { ["SAMPLE_FLAVOUR"] = "alpha" });
        var alphaRef = alpha.AssertResult("built");
        Assert.IsFalse(alpha.HasWarning("ECRC1004"), "SAMPLE_FLAVOUR is set, so no unset-build-arg warning" + alpha.Describe());
        Assert.AreEqual("flavour=alpha", DockerHelper.Cat(alphaRef, "/flavour"));

        var beta = ws.Build(environment: new Dictionary<string, string?> { ["SAMPLE_FLAVOUR"] = "beta" });
        var betaRef = beta.AssertResult("built");
        Assert.AreNotEqual(alphaRef, betaRef, "a build arg value changed, so the tag must change");
        Assert.AreEqual("flavour=beta", DockerHelper.Cat(betaRef, "/flavour"));

        // Unset: warned about, passed as a bare --build-arg so the Dockerfile's ARG default applies, and again a
        // different tag.
        var unset = ws.Build();
        var unsetRef = unset.AssertResult("built");
        Assert.IsTrue(unset.HasWarning("ECRC1004"), "an unset BuildArg without Value is warned about" + unset.Describe());
        Assert.AreNotEqual(alphaRef, unsetRef);
        Assert.AreEqual("flavour=plain", DockerHelper.Cat(unsetRef, "/flavour"), "ARG SAMPLE_FLAVOUR=plain applies");

        // The value never travels in docker's argv: only --build-arg NAME.
        Assert.IsFalse(beta.Output.Contains("--build-arg SAMPLE_FLAVOUR=", StringComparison.Ordinal), beta.Describe());
    }

    [TestMethod]
    public void AnUnsetBuildArgKeepsTheDockerfileDefault_AnEmptyValueIsEmptyAndKeyedApart()
    {
        // ARG BASE_IMAGE=ecrcache/busybox:1 (in the daemon, from start-services.sh), FROM ${BASE_IMAGE} and
        // ARG SAMPLE_FLAVOUR=plain: an unset BuildArg must not replace either default with '' (FROM '' cannot build).
        var ws = CreateWorkspace();
        ws.WriteFile("Sample.proj", ws.ReadFile("Sample.proj").Replace(
            "<BuildArg Include=\"BASE_IMAGE\" Value=\"$(BaseImage)\" />",
            "<BuildArg Include=\"BASE_IMAGE\" Value=\"$(BaseImage)\" Condition=\"'$(UnsetBase)' != 'true'\" />\n    <BuildArg Include=\"BASE_IMAGE\" Condition=\"'$(UnsetBase)' == 'true'\" />",
            StringComparison.Ordinal));

        var unset = ws.Build("-p:UnsetBase=true");
        var unsetRef = unset.AssertResult("built");
        Assert.IsTrue(unset.HasWarning("ECRC1004"), unset.Describe());
        StringAssert.Contains(unset.Output, "--build-arg SAMPLE_FLAVOUR ", unset.Describe());
        Assert.AreEqual("flavour=plain", DockerHelper.Cat(unsetRef, "/flavour"), "the Dockerfile's ARG default, not ''");
        StringAssert.Contains(File.ReadAllText(ws.KeyManifestPath), "\"name\": \"SAMPLE_FLAVOUR\", \"hash\": \"" + Sha256Hex("SAMPLE_FLAVOUR") + "\"");

        // Value="": the ARG is empty, and the key differs from the unset one.
        ws.WriteFile("Sample.proj", ws.ReadFile("Sample.proj").Replace(
            "<BuildArg Include=\"SAMPLE_FLAVOUR\" />", "<BuildArg Include=\"SAMPLE_FLAVOUR\" Value=\"\" />", StringComparison.Ordinal));
        var empty = ws.Build("-p:UnsetBase=true");
        var emptyRef = empty.AssertResult("built");
        Assert.AreNotEqual(unsetRef, emptyRef, "unset and empty are different inputs");
        Assert.AreEqual("flavour=", DockerHelper.Cat(emptyRef, "/flavour"));
    }

    [TestMethod]
    public void AMissingCacheOnFileIsAnError_UnlessOptional_ThenCreatingItChangesTheKey()
    {
        var ws = CreateWorkspace();
        var project = ws.ReadFile("Sample.proj");
        ws.WriteFile("Sample.proj", project.Replace(
            "<CacheOn Include=\"app/version.json\" JsonPath=\".dependencies\" />",
            "<CacheOn Include=\"app/version.json\" JsonPath=\".dependencies\" />\n    <CacheOn Include=\"app/vesion.json\" />",
            StringComparison.Ordinal));
        var typo = ws.Build();
        typo.AssertFailedWith("ECRC1105");
        StringAssert.Contains(typo.Output, "'app/vesion.json'", typo.Describe());

        ws.WriteFile("Sample.proj", project.Replace(
            "<CacheOn Include=\"app/version.json\" JsonPath=\".dependencies\" />",
            "<CacheOn Include=\"app/version.json\" JsonPath=\".dependencies\" />\n    <CacheOn Include=\"app/.npmrc\" Optional=\"true\" />",
            StringComparison.Ordinal));
        var absent = ws.Build().AssertResult("built");
        StringAssert.Contains(File.ReadAllText(ws.KeyManifestPath), "{\"kind\": \"file\", \"name\": \"app/.npmrc\", \"hash\": \"absent\"}");
        Assert.AreEqual(absent, ws.Build().AssertResult("hit-local"), "an absent Optional file is a stable input");

        ws.WriteFile("app/.npmrc", "registry=https://registry.example.com/\n");
        var created = ws.Build();
        Assert.AreNotEqual(absent, created.AssertResult("built"), "creating the Optional file changes the key");
    }

    [TestMethod]
    public void ThePluginsHashJsonPathSyntax_LiteralAndGlob_KeysOnlyTheSelectedValue()
    {
        // cache-on: ["**/package.json#.dependencies", "app/version.json#.dependencies"] as the reference plugin
        // wrote it. MSBuild drops the glob (no file has that name), so EcrCache must expand it itself.
        var ws = CreateWorkspace();
        ws.WriteFile("Sample.proj", ws.ReadFile("Sample.proj")
            .Replace("<CacheOn Include=\"**/package.json\" Exclude=\"**/node_modules/**\" />", "<CacheOn Include=\"**/package.json#.dependencies\" Exclude=\"**/node_modules/**\" />", StringComparison.Ordinal)
            .Replace("<CacheOn Include=\"app/version.json\" JsonPath=\".dependencies\" />", "<CacheOn Include=\"app/version.json#.dependencies\" />", StringComparison.Ordinal));
        Directory.CreateDirectory(Path.Combine(ws.ProjectDirectory, "app", "node_modules", "left-pad"));
        ws.WriteFile("app/node_modules/left-pad/package.json", "{ \"name\": \"left-pad\", \"dependencies\": {} }");

        var first = ws.Build();
        var baseline = first.AssertResult("built");
        Assert.IsFalse(first.HasWarning("ECRC1104") || first.HasWarning("ECRC1106"), first.Describe());
        var manifest = File.ReadAllText(ws.KeyManifestPath);
        foreach (var name in new[] { "app/package.json#.dependencies", "package.json#.dependencies", "app/version.json#.dependencies" })
        {
            StringAssert.Contains(manifest, "\"kind\": \"json\", \"name\": \"" + name + "\"", manifest);
        }

        Assert.IsFalse(manifest.Contains("node_modules", StringComparison.Ordinal), "the Exclude applies: " + manifest);

        // Other members of matched files (and files the Exclude removes): the same key.
        ws.WriteFile("app/package.json", ws.ReadFile("app/package.json").Replace("\"version\": \"1.0.0\"", "\"version\": \"2.0.0\"", StringComparison.Ordinal));
        ws.WriteFile("app/version.json", ws.ReadFile("app/version.json").Replace("\"version\": \"1.0.0\"", "\"version\": \"2.0.0\"", StringComparison.Ordinal));
        ws.WriteFile("app/node_modules/left-pad/package.json", "{ \"name\": \"left-pad\", \"dependencies\": { \"x\": \"1\" } }");
        Assert.AreEqual(baseline, ws.Build().AssertResult("hit-local"), "members outside .dependencies do not change the key");

        // A dependency, through the glob: a new key.
        ws.WriteFile("app/package.json", ws.ReadFile("app/package.json").Replace("\"1.3.0\"", "\"1.3.1\"", StringComparison.Ordinal));
        var viaGlob = ws.Build().AssertResult("built");
        Assert.AreNotEqual(baseline, viaGlob, "a dependency in a file the glob matches changes the key");

        // A dependency, through the literal item: another new key.
        ws.WriteFile("app/version.json", ws.ReadFile("app/version.json").Replace("\"b\": \"2\"", "\"b\": \"3\"", StringComparison.Ordinal));
        var viaLiteral = ws.Build().AssertResult("built");
        Assert.AreNotEqual(viaGlob, viaLiteral, "a dependency in the literal file#.path changes the key");

        // A new package.json the glob matches: a new key (the input stamp does not hide it).
        Directory.CreateDirectory(Path.Combine(ws.ProjectDirectory, "worker"));
        ws.WriteFile("worker/package.json", "{ \"name\": \"worker\", \"dependencies\": { \"y\": \"1\" } }");
        Assert.AreNotEqual(viaLiteral, ws.Build().AssertResult("built"), "a new file matching the glob changes the key");
    }

    [TestMethod]
    public void AHashGlobUnderACondition_IsAnErrorThatSaysHowToWriteIt()
    {
        var ws = CreateWorkspace();
        ws.WriteFile("Sample.proj", ws.ReadFile("Sample.proj").Replace(
            "<CacheOn Include=\"**/package.json\" Exclude=\"**/node_modules/**\" />",
            "<CacheOn Include=\"**/package.json#.dependencies\" Condition=\"'$(Ci)' != 'true'\" />",
            StringComparison.Ordinal));
        var build = ws.Build();
        build.AssertFailedWith("ECRC1115");
        StringAssert.Contains(build.Output, "Include=\"**/package.json\" JsonPath=\".dependencies\"", build.Describe());
        StringAssert.Contains(build.Output, "Sample.proj(10): error ECRC1115", "the error points at the line of the element: " + build.Describe());
    }

    private static string Sha256Hex(string text) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

    [TestMethod]
    public void JsonPathOnlyTheSelectedValueIsHashed()
    {
        var ws = CreateWorkspace();
        var baseline = ws.Build().AssertResult("built");

        // "version" is outside .dependencies: same key, a local hit.
        ws.WriteFile("app/version.json", "{ \"version\": \"9.9.9\", \"dependencies\": { \"a\": \"1\", \"b\": \"2\" } }");
        var versionOnly = ws.Build();
        Assert.AreEqual(baseline, versionOnly.AssertResult("hit-local"), "a change outside JsonPath must not change the tag");

        // Same dependencies, other formatting and key order: still the same key (canonical JSON).
        ws.WriteFile("app/version.json", "{\n  \"dependencies\": {\"b\":\"2\",\n \"a\":\"1\"},\n  \"version\": \"1.0.0\"\n}\n");
        Assert.AreEqual(baseline, ws.Build().AssertResult("hit-local"), "reformatting the selected JSON must not change the tag");

        // Inside .dependencies: a new key and a build.
        ws.WriteFile("app/version.json", "{ \"version\": \"1.0.0\", \"dependencies\": { \"a\": \"1\", \"b\": \"3\" } }");
        var dependency = ws.Build();
        Assert.AreNotEqual(baseline, dependency.AssertResult("built"), "a change inside .dependencies must change the tag");
    }
}
