using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>Every failure is a coded MSBuild error (non-zero exit, no ensured.json stamp).</summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class ErrorTests : IntegrationTest
{
    [TestMethod]
    public void UnknownProviderIsECRC1008()
    {
        var build = CreateWorkspace().Build("-p:EcrCacheProvider=nope");
        build.AssertFailedWith("ECRC1008");
        Assert.IsTrue(build.Output.Contains("'nope'", StringComparison.Ordinal), build.Describe());
    }

    [TestMethod]
    public void RegistryProviderWithoutRegistryIsECRC1009() =>
        CreateWorkspace().Build("-p:EcrCacheProvider=registry").AssertFailedWith("ECRC1009");

    [TestMethod]
    public void DockerfileAndInlineTogetherIsECRC1002() =>
        CreateWorkspace().Build("-p:EcrCacheDockerfile=Dockerfile", "-p:EcrCacheDockerfileInline=FROM scratch").AssertFailedWith("ECRC1002");

    [TestMethod]
    public void MissingDockerfileIsECRC1001()
    {
        var build = CreateWorkspace().Build("-p:EcrCacheDockerfile=Missing.Dockerfile");
        build.AssertFailedWith("ECRC1001");
        Assert.IsTrue(build.Output.Contains("Missing.Dockerfile", StringComparison.Ordinal), build.Describe());
    }

    [TestMethod]
    public void DockerfileErrorsPrintTheDockerfilesLineAndColumn()
    {
        // The canonical "file(line,col): error CODE: text" that IDEs and CI annotations parse; no docker is needed.
        var ws = CreateWorkspace();
        var dockerfile = Path.Combine(ws.ProjectDirectory, "Dockerfile");
        ws.WriteFile("Dockerfile", "ARG BASE\n\nFROM ${BASE}\n");
        var emptyArg = ws.Build(Array.Empty<string>(), target: "ExplainCachedImageKey").AssertFailedWith("ECRC1110");
        StringAssert.Contains(emptyArg.Output, dockerfile + "(3,1): error ECRC1110: Line 3 of the Dockerfile", emptyArg.Describe());

        ws.WriteFile("Dockerfile", "RUN echo no base\n");
        var noFrom = ws.Build("-p:EcrCacheDockerPath=/nonexistent/docker").AssertFailedWith("ECRC1043");
        StringAssert.Contains(noFrom.Output, dockerfile + "(1,1): error ECRC1043: ", noFrom.Describe());
    }

    [TestMethod]
    public void MissingDockerExecutableIsECRC1201() =>
        CreateWorkspace().Build("-p:EcrCacheDockerPath=/nonexistent/docker").AssertFailedWith("ECRC1201");

    [TestMethod]
    public void UnreachableDaemonIsECRC1202()
    {
        var build = CreateWorkspace().Build(Array.Empty<string>(), environment: new Dictionary<string, string?> { ["DOCKER_HOST"] = "unix:///tmp/ecrcache-it-nonexistent.sock" });
        build.AssertFailedWith("ECRC1202");
    }

    [TestMethod]
    public void UnreachableRegistryIsECRC1301AndFast()
    {
        // A port that was free a moment ago: nothing listens there, so connecting is refused at once.
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
        }

        var ws = CreateWorkspace();
        var clock = Stopwatch.StartNew();
        var build = ws.Build(Workspace.RegistryProvider("127.0.0.1:" + port));
        clock.Stop();
        build.AssertFailedWith("ECRC1301");
        Log($"ECRC1301 after {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(30), $"registry down must be a coded error in under 30 s (retries end at the HTTP deadline), took {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count, "nothing may be built when the registry cannot be reached");
    }

    [TestMethod]
    public void ClientWithoutBuildKitIsECRC1203WhenSecretsNeedIt()
    {
        const string modernClient = "/usr/local/bin/docker";
        if (!File.Exists(modernClient))
        {
            Assert.Inconclusive(modernClient + " (a docker 23+ client without the buildx plugin) is not installed on this machine.");
        }

        var ws = CreateWorkspace();
        var version = ChildProcess.Run(modernClient, new[] { "buildx", "version" }, ws.Root, ws.ChildEnvironment(), TimeSpan.FromMinutes(1));
        if (version.ExitCode == 0)
        {
            Assert.Inconclusive(modernClient + " has the buildx plugin here, so it does have BuildKit.");
        }

        var build = ws.Build(new[] { "-p:UseSecret=true", "-p:EcrCacheDockerPath=" + modernClient }, environment: new Dictionary<string, string?> { ["NPM_TOKEN"] = "token" });
        build.AssertFailedWith("ECRC1203");
        Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count);
    }

    [TestMethod]
    public void CacheOnGlobMatchingNothingWarnsECRC1104()
    {
        var ws = CreateWorkspace("NoMatch");
        var build = ws.Build();
        build.AssertResult("built");
        Assert.IsTrue(build.HasWarning("ECRC1104"), "expected warning ECRC1104 for the glob that matches nothing" + build.Describe());
        Assert.IsTrue(build.Output.Contains("nothing/**/*.lock", StringComparison.Ordinal), "the warning should name the pattern" + build.Describe());
        Assert.IsFalse(build.HasWarning("ECRC1106"), "input.txt did match, so the key is not empty" + build.Describe());
    }

    [TestMethod]
    public void PushRefusedByTheRegistryFailsTheBuildWithECRC1205()
    {
        // A fake registry: the v2 ping works and the manifest HEAD says "not found" (a miss), but every upload is
        // refused. So the lookup succeeds, docker builds the image, and the push (done by dockerd, which trusts
        // plain http on 127.0.0.0/8) fails.
        using var registry = Track(FakeHttpServer.StartTcp(request =>
        {
            var apiHeader = new Dictionary<string, string> { ["Docker-Distribution-API-Version"] = "registry/2.0" };
            if (request.Path == "/v2/" || request.Path == "/v2")
            {
                return new FakeResponse(200, "{}", headers: apiHeader);
            }

            if (request.Path.Contains("/manifests/", StringComparison.Ordinal) && request.Method is "HEAD" or "GET")
            {
                return new FakeResponse(404, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}", headers: apiHeader);
            }

            if (request.Path.Contains("/blobs/", StringComparison.Ordinal) && request.Method is "HEAD" or "GET")
            {
                return new FakeResponse(404, "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"blob unknown\"}]}", headers: apiHeader);
            }

            return new FakeResponse(403, "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"pushes are refused by this test registry\"}]}", headers: apiHeader);
        }));

        var ws = CreateWorkspace();
        var build = ws.Build(Workspace.RegistryProvider(registry.Address));
        build.AssertFailedWith("ECRC1205");
        Assert.IsTrue(build.Output.Contains("Building with", StringComparison.Ordinal), "sanity: the image was built before the push failed" + build.Describe());
        Assert.IsTrue(registry.Requests.Any(r => r.Method == "HEAD" && r.Path.StartsWith($"/v2/{ws.Repository}/manifests/", StringComparison.Ordinal)), "EcrCache should have looked the tag up: " + string.Join(", ", registry.Requests));
        Assert.IsTrue(registry.Requests.Any(r => r.Method is "POST" or "PUT" or "PATCH"), "docker should have tried to upload: " + string.Join(", ", registry.Requests));
        Assert.IsNull(build.Result, "no EcrCache summary line for a failed push" + build.Describe());

        // Without -v the error itself says what the registry said, not only docker's exit code.
        var quiet = ws.Build(Workspace.RegistryProvider(registry.Address), verbosity: null);
        quiet.AssertFailedWith("ECRC1205");
        StringAssert.Matches(quiet.Output, new System.Text.RegularExpressions.Regex(@"error ECRC1205: docker push of '[^']+' failed with exit code 1: .*pushes are refused by this test registry"), quiet.Describe());
    }

    [TestMethod]
    public void MalformedOptionOfAnotherProviderIsStillItsError()
    {
        // EcrCacheMaxAgeDays is read only by providers that expire images, but a value that is no number of days is an
        // error with local and registry too, with the code the expiring providers give it.
        var local = CreateWorkspace().Build("-p:EcrCacheMaxAgeDays=abc");
        local.AssertFailedWith("ECRC1510");
        Assert.IsTrue(local.Output.Contains("EcrCacheMaxAgeDays 'abc'", StringComparison.Ordinal), local.Describe());

        CreateWorkspace().Build(Workspace.RegistryProvider(Env.Registry).Append("-p:EcrCacheMaxAgeDays=-4").ToArray()).AssertFailedWith("ECRC1510");
        CreateWorkspace().Build("-p:EcrCacheS3Bucket=s3://my-ci-cache").AssertFailedWith("ECRC1701");
        CreateWorkspace().Build("-p:EcrCacheWarnOnLocalInBuildkite=sometimes").AssertFailedWith("ECRC1011");
    }

    [TestMethod]
    public void OptionOfAnotherProviderIsWarningECRC1029_TheSdkDefaultsAreNot()
    {
        // Sdk.targets passes EcrCacheMaxAgeDays=7, EcrCacheSkipPull=false, EcrCacheRegistryInsecure=false and
        // EcrCacheDirectoryMaxSizeMB=0 to every build: being defaults, they must not warn.
        var ws = CreateWorkspace();
        var registry = Workspace.RegistryProvider(Env.Registry);
        foreach (var args in new[] { Array.Empty<string>(), registry })
        {
            var plain = ws.Build(args, target: "ComputeCachedImageKey").AssertSucceeded();
            Assert.IsFalse(plain.HasWarning("ECRC1029"), "defaults are no choice of the user" + plain.Describe());
        }

        var local = ws.Build(new[] { "-p:EcrCacheMaxAgeDays=14", "-p:EcrCacheS3Bucket=my-ci-cache" }, target: "ComputeCachedImageKey").AssertSucceeded();
        StringAssert.Contains(local.Output, "warning ECRC1029: EcrCacheMaxAgeDays is set, but EcrCacheProvider=local ignores it (local does not expire images); only ecr, gar, gcr, s3 and directory use it.", local.Describe());
        StringAssert.Contains(local.Output, "warning ECRC1029: EcrCacheS3Bucket is set, but EcrCacheProvider=local ignores it; only s3 use it.", local.Describe());

        var onRegistry = ws.Build(registry.Append("-p:EcrCacheS3Bucket=my-ci-cache").Append("-p:EcrCacheMaxAgeDays=7"), target: "ComputeCachedImageKey").AssertSucceeded();
        StringAssert.Contains(onRegistry.Output, "warning ECRC1029: EcrCacheS3Bucket is set, but EcrCacheProvider=registry ignores it; only s3 use it.", onRegistry.Describe());
        StringAssert.Contains(onRegistry.Output, "warning ECRC1029: EcrCacheMaxAgeDays is set, but EcrCacheProvider=registry ignores it (registry does not expire images)", "7 written by the user is a choice, unlike the default 7" + onRegistry.Describe());

        // For the provider that reads it, no warning.
        var onS3Key = ws.Build(new[] { "-p:EcrCacheProvider=s3", "-p:EcrCacheS3Bucket=my-ci-cache", "-p:EcrCacheMaxAgeDays=14" }, target: "ComputeCachedImageKey").AssertSucceeded();
        Assert.IsFalse(onS3Key.HasWarning("ECRC1029"), onS3Key.Describe());
    }
}
