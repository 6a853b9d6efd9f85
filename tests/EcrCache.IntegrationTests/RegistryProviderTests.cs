using System.Net;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>EcrCacheProvider=registry against the open (no auth) docker-registry of start-services.sh.</summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class RegistryProviderTests : IntegrationTest
{
    [TestMethod]
    public void MissPushesThenHitLocalThenPullsAfterRmiAndSkipPullDoesNotPull()
    {
        var ws = CreateWorkspace();
        var registryArgs = Workspace.RegistryProvider(Env.Registry);

        // 1. Miss: built, then pushed (tag and latest).
        var first = ws.Build(registryArgs);
        var reference = first.AssertResult("built");
        Assert.AreEqual(Env.Registry + "/" + ws.Repository, first.Image, "the registry provider prefixes the image with the registry host");
        Assert.AreEqual(HttpStatusCode.OK, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, first.Tag), "the tag was not pushed" + first.Describe());
        Assert.AreEqual(HttpStatusCode.OK, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, "latest"), "latest was not pushed" + first.Describe());
        Assert.IsTrue(DockerHelper.ImageExists(reference));
        Assert.AreEqual(first.Image, first.EnvFile!["BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE"]);
        Assert.AreEqual(first.Tag, first.EnvFile!["BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_TAG"]);

        // 2. Unchanged: the image is local, so a local hit.
        var second = ws.Build(registryArgs);
        Assert.AreEqual(reference, second.AssertResult("hit-local"));

        // 3. Another machine (the image is not local): one HEAD finds it, docker pull brings it back.
        DockerHelper.RemoveImages(new[] { reference, first.Image + ":latest" });
        Assert.IsFalse(DockerHelper.ImageExists(reference), "rmi did not remove " + reference);
        var third = ws.Build(registryArgs);
        Assert.AreEqual(reference, third.AssertResult("hit-pulled"));
        Assert.IsTrue(DockerHelper.ImageExists(reference), "hit-pulled but the image is not in the daemon" + third.Describe());
        Assert.IsFalse(third.Output.Contains("Building with", StringComparison.Ordinal), "a registry hit must not build" + third.Describe());

        // 4. EcrCacheSkipPull=true: only make sure it exists in the registry; do not pull it.
        DockerHelper.RemoveImages(new[] { reference });
        var fourth = ws.Build(registryArgs.Append("-p:EcrCacheSkipPull=true"));
        Assert.AreEqual(reference, fourth.AssertResult("hit-not-pulled"));
        Assert.IsFalse(DockerHelper.ImageExists(reference), "EcrCacheSkipPull=true must not pull the image" + fourth.Describe());
        Assert.IsTrue(fourth.StampExists);
    }
}
