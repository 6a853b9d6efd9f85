using System.Net;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>EcrCacheProvider=registry against the htpasswd registry, authenticated from $DOCKER_CONFIG/config.json.</summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class AuthRegistryTests : IntegrationTest
{
    [TestMethod]
    public void CredentialsFromDockerConfigPushThenAnotherMachinePulls()
    {
        var registryArgs = Workspace.RegistryProvider(Env.AuthRegistry);
        var ws = CreateWorkspace();
        ws.WriteDockerAuth(Env.AuthRegistry, Env.AuthUser, Env.AuthPassword);

        var first = ws.Build(registryArgs);
        var reference = first.AssertResult("built");
        Assert.AreEqual(HttpStatusCode.OK, RegistryProbe.HeadManifest(Env.AuthRegistry, ws.Repository, first.Tag, Env.AuthUser, Env.AuthPassword), "the tag was not pushed to the auth registry" + first.Describe());
        Assert.AreEqual(HttpStatusCode.Unauthorized, RegistryProbe.HeadManifest(Env.AuthRegistry, ws.Repository, first.Tag), "sanity: the registry must require auth");
        Assert.IsFalse(first.Output.Contains(Env.AuthPassword, StringComparison.Ordinal), "the registry password leaked into the build output");

        // "Another machine": a fresh checkout with its own docker config, and the image not in the daemon.
        DockerHelper.RemoveImages(DockerHelper.TagsOf(ws.Repository));
        Assert.IsFalse(DockerHelper.ImageExists(reference));
        var other = CreateWorkspace(repository: ws.Repository);
        other.WriteDockerAuth(Env.AuthRegistry, Env.AuthUser, Env.AuthPassword);
        var second = other.Build(registryArgs);
        Assert.AreEqual(reference, second.AssertResult("hit-pulled"), "the second machine should compute the same key and pull it");
        Assert.IsTrue(DockerHelper.ImageExists(reference), "hit-pulled, but the image is not in the daemon" + second.Describe());
    }

    [TestMethod]
    public void WrongPasswordFailsWithECRC1302()
    {
        var ws = CreateWorkspace();
        ws.WriteDockerAuth(Env.AuthRegistry, Env.AuthUser, "not-the-password-" + Guid.NewGuid().ToString("N"));
        var build = ws.Build(Workspace.RegistryProvider(Env.AuthRegistry));
        build.AssertFailedWith("ECRC1302");
        Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count, "nothing may be built when the registry refuses the credentials" + build.Describe());
    }

    [TestMethod]
    public void NoCredentialsFailsAndRecordsNothing()
    {
        var ws = CreateWorkspace();
        var build = ws.Build(Workspace.RegistryProvider(Env.AuthRegistry));
        build.AssertFailedWith("ECRC1302");
        Assert.IsTrue(build.Output.Contains(ws.DockerConfigDirectory, StringComparison.Ordinal), "the error should say where credentials were looked for" + build.Describe());
        Assert.AreEqual(HttpStatusCode.NotFound, RegistryProbe.HeadManifest(Env.AuthRegistry, ws.Repository, "latest", Env.AuthUser, Env.AuthPassword));
    }
}
