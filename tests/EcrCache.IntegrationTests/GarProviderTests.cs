using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EcrCache.IntegrationTests.Infrastructure;
using EcrCache.TestSupport;

namespace EcrCache.IntegrationTests;

/// <summary>
/// EcrCacheProvider=gar through `dotnet build` of the packed SDK. Google's side is <see cref="FakeGoogleCloud"/> in this
/// test process: a FAKE (there is no Artifact Registry emulator, and tests must not reach Google) that verifies the
/// service-account JWT Google.Apis.Auth signs inside the build and checks every Artifact Registry REST call. The build
/// finds it the way a user's build finds Google: GOOGLE_APPLICATION_CREDENTIALS names a key file (whose token_uri is the
/// fake) and EcrCacheGarEndpoint the API. The data plane is real: a docker-registry of this class's own that takes only
/// oauth2accesstoken + the access token, and the real docker daemon.
/// </summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class GarProviderTests : IntegrationTest
{
    private const string Project = "fake-project";

    private static FakeGoogleCloud? _google;
    private static TokenRegistry? _registry;
    private static string? _skip;

    [ClassInitialize]
    public static void StartServices(TestContext context)
    {
        _google = FakeGoogleCloud.Start();
        _registry = TokenRegistry.TryStart(_google.AccessToken, out _skip);
    }

    [ClassCleanup]
    public static void StopServices()
    {
        _registry?.Dispose();
        _google?.Dispose();
    }

    [TestMethod]
    public void MissCreatesTheRepositoryAndPushes_ThenHitPullsAfterRmi_AndTheAccessTokenLeaksNowhere()
    {
        var (google, registry) = Require();
        var ws = CreateWorkspace("EcrSample", NewRepository("gar"));
        var tmp = Directory.CreateDirectory(Path.Combine(ws.Root, "tmp")).FullName;
        var environment = GarEnvironment(google, ws, tmp);
        ws.WriteDockerAuth("registry.example.invalid", "someone", "not-the-google-token");
        var userConfigPath = Path.Combine(ws.DockerConfigDirectory, "config.json");
        var userConfig = File.ReadAllBytes(userConfigPath);
        var image = registry.Host + "/" + Project + "/build-cache/" + ws.Repository;

        // 1. Miss: the Artifact Registry repository is created (labels from EcrTag, lower-cased; the cleanup policy for
        //    this image path), the image is built and pushed as oauth2accesstoken through a private DOCKER_CONFIG.
        var firstBinlog = Path.Combine(ws.Root, "first.binlog");
        var first = ws.Build(GarArguments(google, registry).Append("-bl:" + firstBinlog), verbosity: "diag", environment: environment);
        var reference = first.AssertResult("built");
        Assert.AreEqual(image, first.Image, first.Describe());
        Assert.IsFalse(Regex.IsMatch(first.Output, @"warning ECRC\d+"), "no EcrCache warning expected (ECRC1612 would mean no cleanup policy)" + first.Describe());
        Assert.AreEqual(0, google.TokenFailures.Count, "the token endpoint refused the build's JWT: " + string.Join("; ", google.TokenFailures));
        Assert.IsTrue(google.TokensIssued >= 1, "the build got its token from the token_uri of the key file");
        var repositoryName = "projects/" + Project + "/locations/us/repositories/build-cache";
        var repository = google.Repository(repositoryName);
        Assert.IsNotNull(repository, "the repository was not created" + first.Describe());
        Assert.AreEqual("DOCKER", (string?)repository["format"]);
        Assert.AreEqual("platform", (string?)repository["labels"]?["team"], "EcrTag team=platform is a label: " + repository.ToJsonString());
        var policies = repository["cleanupPolicies"] as JsonObject;
        Assert.IsNotNull(policies, "the repository has no cleanup policy: " + repository.ToJsonString());
        var policy = policies.Single().Value!;
        Assert.AreEqual("DELETE", (string?)policy["action"]);
        Assert.AreEqual("604800s", (string?)policy["condition"]?["olderThan"], "EcrCacheMaxAgeDays defaults to 7");
        Assert.AreEqual(ws.Repository, (string?)policy["condition"]?["packageNamePrefixes"]?[0], "the policy only touches this image path");
        Assert.IsTrue(google.ApiRequests.All(r => r.Authorization == "Bearer " + google.AccessToken), "every API call carried the access token");
        var registryPath = Project + "/build-cache/" + ws.Repository;
        Assert.AreEqual(200, registry.HeadManifest(registryPath, first.Tag, google.AccessToken), "the tag was not pushed" + first.Describe());
        Assert.AreEqual(200, registry.HeadManifest(registryPath, "latest", google.AccessToken), "latest was not pushed" + first.Describe());
        CollectionAssert.AreEqual(userConfig, File.ReadAllBytes(userConfigPath), "the user's docker config.json was modified");
        AssertPrivateDockerConfigRemoved(first, tmp);
        AssertNoToken(google.AccessToken, "first build", first, firstBinlog, ws);

        // 2. Another machine: not local. One HEAD, docker pull; the repository is only read, nothing is rewritten.
        var apiCallsBefore = google.ApiRequests.Count;
        DockerHelper.RemoveImages(new[] { reference, first.Image + ":latest" });
        Assert.IsFalse(DockerHelper.ImageExists(reference));
        var secondBinlog = Path.Combine(ws.Root, "second.binlog");
        var second = ws.Build(GarArguments(google, registry).Append("-bl:" + secondBinlog), verbosity: "diag", environment: environment);
        Assert.AreEqual(reference, second.AssertResult("hit-pulled"));
        Assert.IsTrue(DockerHelper.ImageExists(reference), "hit-pulled but not in the daemon" + second.Describe());
        var secondCalls = google.ApiRequests.Skip(apiCallsBefore).Select(r => r.ToString()).ToList();
        CollectionAssert.AreEqual(new[] { "GET /v1/" + repositoryName }, secondCalls, "an up-to-date repository is only read");
        AssertPrivateDockerConfigRemoved(second, tmp);
        AssertNoToken(google.AccessToken, "second build", second, secondBinlog, ws);

        // 3. Local hit: neither the API nor the token endpoint.
        var requestsBefore = google.Requests.Count;
        var third = ws.Build(GarArguments(google, registry), environment: environment);
        Assert.AreEqual(reference, third.AssertResult("hit-local"));
        Assert.AreEqual(requestsBefore, google.Requests.Count, "a local hit must not ask Google for anything");
    }

    [TestMethod]
    public void MissingProjectAndMissingCredentials_AreCodedErrors()
    {
        var (google, registry) = Require();
        var ws = CreateWorkspace("EcrSample", NewRepository("gar-errors"));
        var tmp = Directory.CreateDirectory(Path.Combine(ws.Root, "tmp")).FullName;
        var environment = GarEnvironment(google, ws, tmp);

        var noProject = ws.Build(new[] { "-p:EcrCacheProvider=gar", "-p:EcrCacheRegistryHostname=" + registry.Host }, environment: environment);
        noProject.AssertFailedWith("ECRC1601");

        // No ADC at all: no key file variable, an empty HOME, and a metadata server address where nothing listens (so
        // the probe stays on loopback and fails fast).
        var home = Directory.CreateDirectory(Path.Combine(ws.Root, "empty-home")).FullName;
        environment["GOOGLE_APPLICATION_CREDENTIALS"] = null;
        environment["HOME"] = home;
        environment["CLOUDSDK_CONFIG"] = Path.Combine(home, "no-gcloud");
        var apiCallsBefore = google.ApiRequests.Count;
        var noCredentials = ws.Build(GarArguments(google, registry), environment: environment);
        noCredentials.AssertFailedWith("ECRC1606");
        StringAssert.Contains(noCredentials.Output, "GOOGLE_APPLICATION_CREDENTIALS");
        Assert.AreEqual(apiCallsBefore, google.ApiRequests.Count, "no API call without credentials");
        Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count, "nothing may be built without credentials" + noCredentials.Describe());
        Assert.IsTrue(noCredentials.Command.Elapsed < TimeSpan.FromMinutes(2), $"absent credentials should fail fast ({noCredentials.Command.Elapsed.TotalSeconds:0} s)" + noCredentials.Describe());
    }

    // ---------------------------------------------------------------------------------------------------------------

    [TestMethod]
    public void PushFalseAsksTheApiNothingAndPushesNothing_ThenAPushingRunWritesTheImageTag()
    {
        var (google, registry) = Require();
        var ws = CreateWorkspace("EcrSample", NewRepository("gar-readonly"));
        File.WriteAllText(ws.ProjectFile, File.ReadAllText(ws.ProjectFile).Replace("</Project>", "  <ItemGroup>\n    <ImageTag Include=\"branch-gar\" />\n  </ItemGroup>\n</Project>", StringComparison.Ordinal));
        var tmp = Directory.CreateDirectory(Path.Combine(ws.Root, "tmp")).FullName;
        var environment = GarEnvironment(google, ws, tmp);
        var registryPath = Project + "/build-cache/" + ws.Repository;

        var apiCallsBefore = google.ApiRequests.Count;
        var pr = ws.Build(GarArguments(google, registry).Append("-p:EcrCachePush=false"), verbosity: "diag", environment: environment);
        pr.AssertResult("built-not-pushed");
        CollectionAssert.AreEqual(Array.Empty<string>(), google.ApiRequests.Skip(apiCallsBefore).Select(r => r.ToString()).ToList(), "a read-only run neither reads nor creates the repository, nor writes labels or policies" + pr.Describe());
        foreach (var tag in new[] { pr.Tag, "latest", "branch-gar", pr.Tag + "-lease" })
        {
            Assert.AreEqual(404, registry.HeadManifest(registryPath, tag, google.AccessToken), tag + " must not be pushed by a read-only run" + pr.Describe());
        }

        var pushed = ws.Build(GarArguments(google, registry), verbosity: "diag", environment: environment);
        pushed.AssertResult("built");
        Assert.AreEqual(200, registry.HeadManifest(registryPath, pushed.Tag, google.AccessToken), pushed.Describe());
        Assert.AreEqual(200, registry.HeadManifest(registryPath, "branch-gar", google.AccessToken), "the ImageTag is written through the registry API with the same login" + pushed.Describe());
    }

    private static (FakeGoogleCloud Google, TokenRegistry Registry) Require()
    {
        if (_google == null || _registry == null)
        {
            Assert.Inconclusive(_skip ?? "the fake Google or the private registry did not start");
        }

        return (_google, _registry);
    }

    private static string[] GarArguments(FakeGoogleCloud google, TokenRegistry registry) => new[]
    {
        "-p:EcrCacheProvider=gar",
        "-p:EcrCacheGcpProject=" + Project,
        "-p:EcrCacheRegistryHostname=" + registry.Host,
        "-p:EcrCacheGarEndpoint=" + google.Endpoint,
    };

    /// <summary>
    /// The child's Google environment: the key file, no inherited Google variables, a metadata-server address on a
    /// closed loopback port (never the real link-local one), and the test's TMPDIR for the private docker config.
    /// </summary>
    private static Dictionary<string, string?> GarEnvironment(FakeGoogleCloud google, Workspace ws, string tmp)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var name in Env.ChildEnvironment().Keys.Where(k => k.StartsWith("GOOGLE_", StringComparison.Ordinal) || k.StartsWith("CLOUDSDK_", StringComparison.Ordinal) || k.StartsWith("GCE_", StringComparison.Ordinal)))
        {
            environment[name] = null;
        }

        environment["GOOGLE_APPLICATION_CREDENTIALS"] = google.WriteServiceAccountKey(Path.Combine(ws.Root, "sa-key.json"), Project);
        environment["GCE_METADATA_HOST"] = "127.0.0.1:" + FakeGoogleCloud.FreePort();
        environment["TMPDIR"] = tmp;
        environment["NO_PROXY"] = environment["no_proxy"] = "127.0.0.1,localhost";
        return environment;
    }

    private static void AssertPrivateDockerConfigRemoved(BuildResult build, string tmp)
    {
        var match = Regex.Match(build.Output, @"in the private DOCKER_CONFIG (\S+) \(");
        Assert.IsTrue(match.Success, "the build should say (at diagnostic verbosity) that it logged docker in with a private DOCKER_CONFIG" + build.Command.Describe(200));
        Assert.AreEqual(Path.GetFullPath(tmp), Path.GetDirectoryName(Path.GetFullPath(match.Groups[1].Value)), "the private DOCKER_CONFIG should be in TMPDIR");
        Assert.AreEqual(0, Directory.EnumerateFileSystemEntries(tmp, "ecrcache-docker-*").Count(), "a private docker config was left behind");
    }

    /// <summary>The token (and its basic-auth form) is in none of: console output, binlog (raw and replayed), obj/ecrcache, the user's docker config.</summary>
    private void AssertNoToken(string token, string label, BuildResult build, string binlog, Workspace ws)
    {
        var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes("oauth2accesstoken:" + token));
        var places = new List<(string Name, string Text)> { ("console output (-v:diag)", build.Output) };
        Assert.IsTrue(File.Exists(binlog), "no binlog was written" + build.Describe());
        byte[] raw;
        using (var file = File.OpenRead(binlog))
        using (var gzip = new GZipStream(file, CompressionMode.Decompress))
        using (var buffer = new MemoryStream())
        {
            gzip.CopyTo(buffer);
            raw = buffer.ToArray();
        }

        places.Add(("binlog (raw)", Encoding.UTF8.GetString(raw)));
        places.Add(("binlog (raw, UTF-16)", Encoding.Unicode.GetString(raw)));
        var replayLog = Path.Combine(ws.Root, Path.GetFileNameWithoutExtension(binlog) + "-replay.txt");
        var replay = ws.Dotnet(new[] { "msbuild", binlog, "-noconlog", "-flp:logfile=" + replayLog + ";verbosity=diagnostic" });
        Assert.AreEqual(0, replay.ExitCode, "binlog replay failed" + replay.Describe());
        var replayText = File.ReadAllText(replayLog);
        Assert.IsTrue(replayText.Contains("GAR GetRepository", StringComparison.Ordinal), "sanity: the replayed binlog shows the API calls");
        places.Add(("binlog replayed at diagnostic verbosity", replayText));
        foreach (var file in Directory.EnumerateFiles(ws.IntermediateDirectory, "*", SearchOption.AllDirectories).Concat(Directory.EnumerateFiles(ws.DockerConfigDirectory, "*", SearchOption.AllDirectories)))
        {
            places.Add((file, File.ReadAllText(file)));
        }

        foreach (var (name, text) in places)
        {
            Assert.IsFalse(text.Contains(token, StringComparison.Ordinal), $"{label}: the access token leaked into the {name}");
            Assert.IsFalse(text.Contains(basic, StringComparison.Ordinal), $"{label}: the basic-auth form of the token leaked into the {name}");
        }

        Log($"{label}: searched {places.Count} places for the access token; none has it.");
    }
}
