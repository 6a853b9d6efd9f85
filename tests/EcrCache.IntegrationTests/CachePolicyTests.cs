using System.Net;
using System.Text.RegularExpressions;
using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>
/// Who may write the cache and which tags it gets, against the open docker-registry of start-services.sh:
/// EcrCachePush=false (a pull-request run), EcrCacheRequireHit=true (a deploy step), ImageTag items and an
/// EcrCacheCacheFrom list. What the registry holds is read with HEAD requests of our own (RegistryProbe).
/// </summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class CachePolicyTests : IntegrationTest
{
    /// <summary>The Sample project plus ImageTag items from -p:TestImageTags (';'-separated, %3B on the command line).</summary>
    private Workspace CreateTaggingWorkspace()
    {
        var ws = CreateWorkspace();
        var project = File.ReadAllText(ws.ProjectFile).Replace(
            "</Project>",
            "  <ItemGroup Condition=\"'$(TestImageTags)' != ''\">\n    <ImageTag Include=\"$([MSBuild]::Unescape($(TestImageTags)))\" />\n  </ItemGroup>\n</Project>",
            StringComparison.Ordinal);
        File.WriteAllText(ws.ProjectFile, project);
        return ws;
    }

    private static IEnumerable<string> Registry(params string[] more) => Workspace.RegistryProvider(Env.Registry).Concat(more);

    [TestMethod]
    public void PushFalse_BuildsAndUsesTheImage_ButPushesNoTagNoLatestNoExtraTagAndTakesNoLease()
    {
        var ws = CreateTaggingWorkspace();
        var run = ws.Build(Registry("-p:EcrCachePush=false", "-p:TestImageTags=branch-pr"));
        var reference = run.AssertResult("built-not-pushed");
        Assert.IsTrue(DockerHelper.ImageExists(reference), "the built image is used, so it is in the daemon" + run.Describe());
        foreach (var tag in new[] { run.Tag, "latest", run.Tag + "-lease", "branch-pr" })
        {
            Assert.AreEqual(HttpStatusCode.NotFound, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, tag), tag + " must not be in the registry after EcrCachePush=false" + run.Describe());
        }

        Assert.IsFalse(DockerHelper.ImageExists(run.Image + ":latest"), "latest is not moved, not even locally" + run.Describe());
        Assert.IsFalse(DockerHelper.ImageExists(run.Image + ":branch-pr"), "no extra tag, not even locally" + run.Describe());
        Assert.AreEqual(run.Image, run.EnvFile!["BUILDKITE_PLUGIN_DOCKER_ECR_CACHE_EXPORT_IMAGE"], "the image is exported as on any miss");

        // The same agent again: the image is local, a hit; still nothing in the registry.
        var again = ws.Build(Registry("-p:EcrCachePush=false", "-p:TestImageTags=branch-pr"));
        Assert.AreEqual(reference, again.AssertResult("hit-local"));
        Assert.AreEqual(HttpStatusCode.NotFound, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, run.Tag), "a read-only hit pushes nothing" + again.Describe());
        Assert.AreEqual(HttpStatusCode.NotFound, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, "branch-pr"), "a read-only hit re-tags nothing" + again.Describe());

        // A trusted run on the same agent does not take the read-only run's local image for a hit: it looks the
        // store up, builds and pushes.
        var trusted = ws.Build(Registry());
        Assert.AreEqual(reference, trusted.AssertResult("built"), "the local image of a read-only run is not a hit for a pushing run" + trusted.Describe());
        Assert.AreEqual(HttpStatusCode.OK, RegistryProbe.HeadManifest(Env.Registry, ws.Repository, run.Tag), trusted.Describe());
        Assert.AreEqual(reference, ws.Build(Registry()).AssertResult("hit-local"), "after the push the local image is a hit again");
    }

    [TestMethod]
    public void RequireHit_AMissFailsWithECRC1230BeforeAnyDockerBuild_AndAHitIsUsed()
    {
        var ws = CreateWorkspace();
        var miss = ws.Build(Registry("-p:EcrCacheRequireHit=true"));
        miss.AssertFailedWith("ECRC1230");
        Assert.IsFalse(miss.Output.Contains("Building with", StringComparison.Ordinal), "a must-hit miss runs no docker build" + miss.Describe());
        Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count, "nothing was built into the daemon" + miss.Describe());
        var tag = File.ReadAllText(ws.KeyPath).Trim()[..24];
        StringAssert.Contains(miss.Output, "registry " + Env.Registry, "the error names the store" + miss.Describe());
        StringAssert.Contains(miss.Output, tag, "the error names the tag it looked up" + miss.Describe());

        // Read-only and must-hit together: still the error, still no build.
        var both = ws.Build(Registry("-p:EcrCacheRequireHit=true", "-p:EcrCachePush=false"));
        both.AssertFailedWith("ECRC1230");
        Assert.IsFalse(both.Output.Contains("Building with", StringComparison.Ordinal), both.Describe());

        // A trusted build publishes it; a must-hit run on a fresh agent pulls it.
        var publish = ws.Build(Registry());
        var reference = publish.AssertResult("built");
        DockerHelper.RemoveImages(new[] { reference, publish.Image + ":latest" });
        var deploy = ws.Build(Registry("-p:EcrCacheRequireHit=true", "-p:EcrCachePush=false"));
        Assert.AreEqual(reference, deploy.AssertResult("hit-pulled"));
    }

    [TestMethod]
    public void ImageTags_PointAtTheKeyTagsDigest_OnAMissAndOnEveryHit_AndNeverChangeTheKey()
    {
        var ws = CreateTaggingWorkspace();

        // Miss: the key tag, latest and both extra tags are one manifest. A branch name is sanitised with ECRC1051.
        var first = ws.Build(Registry("-p:TestImageTags=branch-feature/login%3Bstable"));
        var reference = first.AssertResult("built");
        Assert.IsTrue(first.HasWarning("ECRC1051"), "'branch-feature/login' is not a tag" + first.Describe());
        var digest = RegistryProbe.ManifestDigest(Env.Registry, ws.Repository, first.Tag);
        Assert.IsNotNull(digest, "the key tag was pushed" + first.Describe());
        foreach (var tag in new[] { "latest", "branch-feature-login", "stable" })
        {
            Assert.AreEqual(digest, RegistryProbe.ManifestDigest(Env.Registry, ws.Repository, tag), tag + " must have the key tag's digest" + first.Describe());
        }

        // Another agent, another branch: a hit; the new tag is a manifest copy, no layer is pushed.
        DockerHelper.RemoveImages(new[] { reference, first.Image + ":latest" });
        var second = ws.Build(Registry("-p:TestImageTags=branch-second"));
        Assert.AreEqual(reference, second.AssertResult("hit-pulled"), "the ImageTag items are not in the key" + second.Describe());
        Assert.AreEqual(digest, RegistryProbe.ManifestDigest(Env.Registry, ws.Repository, "branch-second"), "a hit points the extra tag at the key tag's digest" + second.Describe());
        StringAssert.Contains(second.Output, "no layers pulled or pushed", second.Describe());
        Assert.IsFalse(second.Output.Contains("docker push", StringComparison.Ordinal), "a hit re-tags through the manifest API, not docker push" + second.Describe());

        // The image is local now: a local hit tags as well (a branch tag follows its branch on any agent).
        var third = ws.Build(Registry("-p:TestImageTags=branch-third"));
        Assert.AreEqual(reference, third.AssertResult("hit-local"));
        Assert.AreEqual(digest, RegistryProbe.ManifestDigest(Env.Registry, ws.Repository, "branch-third"), third.Describe());
    }

    [TestMethod]
    public void CacheFromList_PassesEveryExistingSourceInOrder_AndSkipsAMissingOneWithALine()
    {
        var ws = CreateTaggingWorkspace();
        var first = ws.Build(Registry("-p:TestImageTags=branch-a"));
        first.AssertResult("built");
        Assert.IsNotNull(RegistryProbe.ManifestDigest(Env.Registry, ws.Repository, "branch-a"), "sanity: branch-a was pushed" + first.Describe());

        // Another input, so a miss: branch-a and latest exist, branch-missing does not.
        var second = ws.Build(
            Registry("-p:EcrCacheCacheFrom=branch-a%3Bbranch-missing%3Blatest"),
            environment: new Dictionary<string, string?> { ["SAMPLE_FLAVOUR"] = "second" });
        second.AssertResult("built");
        var image = Regex.Escape(second.Image);
        var building = second.Output.Split('\n').Single(l => l.Contains("Building with", StringComparison.Ordinal));
        Assert.IsTrue(Regex.IsMatch(building, "--cache-from " + image + ":branch-a .*--cache-from " + image + ":latest( |$)"), "both existing sources, in order: " + building);
        Assert.IsFalse(building.Contains("branch-missing", StringComparison.Ordinal), "a missing source is not passed: " + building);
        StringAssert.Contains(second.Output, "no layer cache source branch-missing in registry " + Env.Registry + "; skipped", second.Describe());
    }

    [TestMethod]
    public void Directory_PushFalseWritesNothing_ImageTagsAreCopiesOfTheEntry_RequireHitMissIsECRC1230()
    {
        var ws = CreateTaggingWorkspace();
        var cache = Path.Combine(ws.Root, "docker-caches");
        string[] Args(params string[] more) => new[] { "-p:EcrCacheProvider=directory", "-p:EcrCacheDirectory=" + cache }.Concat(more).ToArray();
        string[] Entries() => Directory.Exists(cache) ? Directory.GetFiles(cache, "*.tar.gz").Select(f => Path.GetFileName(f)).OrderBy(n => n, StringComparer.Ordinal).ToArray() : Array.Empty<string>();

        var pr = ws.Build(Args("-p:EcrCachePush=false", "-p:TestImageTags=branch-x"));
        pr.AssertResult("built-not-pushed");
        Assert.IsFalse(Directory.Exists(cache), "a read-only run creates nothing in the cache folder (not even its lock folder)" + pr.Describe());

        var first = ws.Build(Args("-p:TestImageTags=branch-x"));
        first.AssertResult("built");
        CollectionAssert.AreEqual(new[] { first.Tag + ".tar.gz", "branch-x.tar.gz", "latest.tar.gz" }.OrderBy(n => n, StringComparer.Ordinal).ToArray(), Entries(), first.Describe());
        var entry = File.ReadAllBytes(Path.Combine(cache, first.Tag + ".tar.gz"));
        CollectionAssert.AreEqual(entry, File.ReadAllBytes(Path.Combine(cache, "branch-x.tar.gz")), "the extra tag is the key's entry");

        // Another machine, another branch: a hit copies the entry to the new name.
        DockerHelper.RemoveRepositoryImages(ws.Repository);
        Directory.Delete(Path.Combine(ws.ProjectDirectory, "obj"), recursive: true);
        var second = ws.Build(Args("-p:TestImageTags=branch-y", "-p:EcrCacheRequireHit=true"));
        second.AssertResult("hit-pulled");
        CollectionAssert.AreEqual(entry, File.ReadAllBytes(Path.Combine(cache, "branch-y.tar.gz")), second.Describe());

        // Must-hit with other inputs on a fresh agent: no entry, no build.
        Directory.Delete(Path.Combine(ws.ProjectDirectory, "obj"), recursive: true);
        var miss = ws.Build(Args("-p:EcrCacheRequireHit=true"), environment: new Dictionary<string, string?> { ["SAMPLE_FLAVOUR"] = "other" });
        miss.AssertFailedWith("ECRC1230");
        Assert.IsFalse(miss.Output.Contains("Building with", StringComparison.Ordinal), miss.Describe());
        StringAssert.Contains(miss.Output, "cache folder " + cache, "the error names the store" + miss.Describe());
    }

    [TestMethod]
    [TestCategory(Categories.Moto)]
    public void S3_PushFalseUploadsNothingAndWritesNoLifecycleRule_ImageTagsAreServerSideCopies()
    {
        var moto = Boto3.RequireMoto(Env.MotoEndpoint);
        var ws = CreateTaggingWorkspace();
        var bucket = CreateS3Bucket(moto);
        var environment = S3Environment(moto, ws);
        string[] Args(params string[] more) => new[] { "-p:EcrCacheProvider=s3", "-p:EcrCacheS3Bucket=" + bucket, "-p:EcrCacheS3Prefix=ci/sample" }.Concat(more).ToArray();
        const string Listing = "import boto3, sys\n"
            + "s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')\n"
            + "print('KEYS ' + ' '.join(sorted(o['Key'] for o in s3.list_objects_v2(Bucket=sys.argv[2]).get('Contents', []))))\n"
            + "try:\n    print('RULES %d' % len(s3.get_bucket_lifecycle_configuration(Bucket=sys.argv[2])['Rules']))\n"
            + "except s3.exceptions.ClientError:\n    print('RULES 0')\n";

        var pr = ws.Build(Args("-p:EcrCachePush=false", "-p:TestImageTags=branch-x"), environment: environment);
        pr.AssertResult("built-not-pushed");
        var afterPr = Boto3.Run(Listing, moto, bucket);
        StringAssert.Contains(afterPr, "KEYS \n", "nothing uploaded, no lease object" + pr.Describe());
        StringAssert.Contains(afterPr, "RULES 0\n", "no lifecycle rule written" + pr.Describe());

        var pushed = ws.Build(Args("-p:TestImageTags=branch-x"), environment: environment);
        pushed.AssertResult("built");
        var listing = Boto3.Run(Listing, moto, bucket);
        StringAssert.Contains(listing, "ci/sample/" + pushed.Tag + ".tar.gz", pushed.Describe());
        StringAssert.Contains(listing, "ci/sample/branch-x.tar.gz", "the extra tag is an object next to the key's" + pushed.Describe());
    }

    [TestMethod]
    public void LocalProvider_ImageTagIsADockerTag_PushFalseMovesNoTag_RequireHitNeedsTheLocalImage()
    {
        var ws = CreateTaggingWorkspace();
        var miss = ws.Build("-p:EcrCacheRequireHit=true");
        miss.AssertFailedWith("ECRC1230");
        Assert.IsFalse(miss.Output.Contains("Building with", StringComparison.Ordinal), miss.Describe());
        StringAssert.Contains(miss.Output, "the local Docker daemon", miss.Describe());

        var pr = ws.Build("-p:EcrCachePush=false", "-p:TestImageTags=branch-local");
        var reference = pr.AssertResult("built-not-pushed");
        Assert.IsTrue(DockerHelper.ImageExists(reference), "the daemon is the store: the image is there to be used" + pr.Describe());
        Assert.IsFalse(DockerHelper.ImageExists(pr.Image + ":latest"), pr.Describe());
        Assert.IsFalse(DockerHelper.ImageExists(pr.Image + ":branch-local"), pr.Describe());

        // The daemon is the store: the image is a hit for any run, a pushing one tags it.
        var tagged = ws.Build("-p:TestImageTags=branch-local");
        Assert.AreEqual(reference, tagged.AssertResult("hit-local"));
        Assert.AreEqual(DockerHelper.ImageId(reference), DockerHelper.ImageId(pr.Image + ":branch-local"), "ImageTag is docker tag for the local provider" + tagged.Describe());
        Assert.AreEqual(reference, ws.Build("-p:EcrCacheRequireHit=true").AssertResult("hit-local"));
    }

    [TestMethod]
    public void AnImageTagWithNothingLeftIsECRC1050AtItsLine()
    {
        var ws = CreateTaggingWorkspace();
        var line = File.ReadAllLines(ws.ProjectFile).ToList().FindIndex(l => l.Contains("<ImageTag ", StringComparison.Ordinal)) + 1;
        var build = ws.Build(Registry("-p:TestImageTags=/"));
        build.AssertFailedWith("ECRC1050");
        StringAssert.Contains(build.Output, Path.GetFileName(ws.ProjectFile) + "(" + line, "the error points at the ImageTag item" + build.Describe());
        Assert.IsFalse(build.Output.Contains("Building with", StringComparison.Ordinal), build.Describe());
    }
}
