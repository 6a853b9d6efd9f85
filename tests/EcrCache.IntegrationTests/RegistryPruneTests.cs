using System.Net;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>
/// Retention by count through `dotnet build`: EcrCacheRegistryPrune against the open docker-registry (deletes
/// enabled), and EcrCacheKeepCount with the directory provider.
/// </summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class RegistryPruneTests : IntegrationTest
{
    [TestMethod]
    public void APushPrunesKeyTagsBeyondKeepCount_ButNotLatestOrTheNewKey()
    {
        var ws = CreateWorkspace();
        var args = Workspace.RegistryProvider(Env.Registry)
            .Concat(new[] { "-p:EcrCacheRegistryPrune=true", "-p:EcrCacheKeepCount=1", "-p:EcrCacheRegistryPruneGrace=0" })
            .ToArray();
        var first = ws.Build(args);
        first.AssertResult("built");

        ws.WriteFile("app/package.json", ws.ReadFile("app/package.json") + " ");
        var second = ws.Build(args);
        second.AssertResult("built");
        Assert.AreNotEqual(first.Tag, second.Tag);

        Assert.AreEqual(HttpStatusCode.NotFound, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, first.Tag), "the older key tag was not pruned" + second.Describe());
        Assert.AreEqual(HttpStatusCode.OK, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, second.Tag), "the new key tag was pruned");
        Assert.AreEqual(HttpStatusCode.OK, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, "latest"));
        StringAssert.Contains(second.Output, "Pruned " + Env.Registry + "/" + ws.Repository + "@sha256:");

        // Without a limit the user chose, pruning is refused before any work.
        var noLimit = CreateWorkspace().Build(Workspace.RegistryProvider(Env.Registry).Append("-p:EcrCacheRegistryPrune=true"));
        noLimit.AssertFailedWith("ECRC1061");
    }

    [TestMethod]
    public void PruningKeepsAnOlderKey_ThatAnImageTagOfTheProjectPointsAt()
    {
        var ws = CreateWorkspace();
        File.WriteAllText(ws.ProjectFile, File.ReadAllText(ws.ProjectFile).Replace(
            "</Project>",
            "  <ItemGroup Condition=\"'$(TestImageTag)' != ''\">\n    <ImageTag Include=\"$(TestImageTag)\" />\n  </ItemGroup>\n</Project>",
            StringComparison.Ordinal));
        var args = Workspace.RegistryProvider(Env.Registry)
            .Concat(new[] { "-p:EcrCacheRegistryPrune=true", "-p:EcrCacheKeepCount=1", "-p:EcrCacheRegistryPruneGrace=0" })
            .ToArray();
        var first = ws.Build(args.Append("-p:TestImageTag=release-1"));
        first.AssertResult("built");

        ws.WriteFile("app/package.json", ws.ReadFile("app/package.json") + " ");
        var second = ws.Build(args.Append("-p:TestImageTag=release-2"));
        second.AssertResult("built");

        // KeepCount=1 would prune the first key, but release-1 points at its manifest: deleting that would delete the tag.
        Assert.AreEqual(HttpStatusCode.OK, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, "release-1"), "a tag the project pushed was pruned" + second.Describe());
        Assert.AreEqual(HttpStatusCode.OK, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, first.Tag), "the key release-1 points at was pruned" + second.Describe());
        Assert.AreEqual(HttpStatusCode.OK, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, "release-2"));
    }

    [TestMethod]
    public void DirectoryProvider_KeepsTheNewestKeyEntries_AndLatest()
    {
        var ws = CreateWorkspace();
        var cache = Path.Combine(TestRoot, "docker-cache");
        var args = new[] { "-p:EcrCacheProvider=directory", "-p:EcrCacheDirectory=" + cache, "-p:EcrCacheKeepCount=1" };
        var first = ws.Build(args);
        first.AssertResult("built");
        Thread.Sleep(1100); // write times a second apart on any file system
        ws.WriteFile("app/package.json", ws.ReadFile("app/package.json") + " ");
        var second = ws.Build(args);
        second.AssertResult("built");

        var entries = Directory.GetFiles(cache, "*.tar.gz").Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).ToArray();
        CollectionAssert.AreEqual(new[] { second.Tag + ".tar.gz", "latest.tar.gz" }.OrderBy(n => n, StringComparer.Ordinal).ToArray(), entries, second.Describe());
        StringAssert.Contains(second.Output, "EcrCacheKeepCount=1");
    }
}
