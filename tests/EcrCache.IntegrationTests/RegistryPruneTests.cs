using System.Net;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>EcrCacheRegistryPrune through `dotnet build` against the open docker-registry (deletes enabled).</summary>
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
}
