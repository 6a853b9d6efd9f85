using EcrCache.IntegrationTests.Infrastructure;

namespace EcrCache.IntegrationTests;

/// <summary>
/// EcrCacheProvider=s3 and EcrCacheProvider=directory through `dotnet build` of the packed SDK. S3 is the
/// moto_server of start-services.sh (AWS_ENDPOINT_URL_S3); what it holds is read back with boto3 in a python3 child
/// (black box: nothing of the task library is referenced). "Another machine" is simulated by removing the image from
/// the daemon and the project's obj/ folder.
/// </summary>
[TestClass]
[TestCategory(Categories.Docker)]
[TestCategory(Categories.Registry)]
public sealed class TarballProviderTests : IntegrationTest
{
    [TestMethod]
    [TestCategory(Categories.Moto)]
    public void S3_MissUploadsALoadableTarball_ThenAnotherMachineLoadsIt()
    {
        var moto = Boto3.RequireMoto(Env.MotoEndpoint);
        var ws = CreateWorkspace();
        var bucket = CreateS3Bucket(moto);
        var environment = S3Environment(moto, ws);
        var args = new[] { "-p:EcrCacheProvider=s3", "-p:EcrCacheS3Bucket=" + bucket, "-p:EcrCacheS3Prefix=ci/sample" };

        var first = ws.Build(args, verbosity: "n", environment: environment);
        var reference = first.AssertResult("built");
        Assert.AreEqual(ws.Repository, first.Image, "the image keeps the repository name" + first.Describe());
        Assert.IsFalse(first.HasWarning("ECRC1706"), "moto accepts the lifecycle rule" + first.Describe());

        // Read back: the object, latest, no open upload, the lifecycle rule; download and docker load the object.
        var downloaded = Path.Combine(ws.Root, "object.tar.gz");
        var listing = Boto3.Run(
            "import boto3, sys\n"
            + "s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')\n"
            + "print('KEYS ' + ' '.join(sorted(o['Key'] for o in s3.list_objects_v2(Bucket=sys.argv[2]).get('Contents', []))))\n"
            + "print('UPLOADS %d' % len(s3.list_multipart_uploads(Bucket=sys.argv[2]).get('Uploads', [])))\n"
            + "r = [x for x in s3.get_bucket_lifecycle_configuration(Bucket=sys.argv[2])['Rules'] if x['ID'] == 'ecrcache:ci/sample/'][0]\n"
            + "print('RULE %s %s %d %d' % (r['Status'], r['Filter']['Prefix'], r['Expiration']['Days'], r['AbortIncompleteMultipartUpload']['DaysAfterInitiation']))\n"
            + "s3.download_file(sys.argv[2], sys.argv[3], sys.argv[4])\n",
            moto,
            bucket,
            "ci/sample/" + first.Tag + ".tar.gz",
            downloaded);
        StringAssert.Contains(listing, "KEYS ci/sample/" + first.Tag + ".tar.gz ci/sample/latest.tar.gz\n");
        StringAssert.Contains(listing, "UPLOADS 0\n");
        StringAssert.Contains(listing, "RULE Enabled ci/sample/ 7 1\n");

        DockerHelper.RemoveRepositoryImages(ws.Repository);
        Assert.IsFalse(DockerHelper.ImageExists(reference));
        var load = DockerHelper.Run("load", "--input", downloaded);
        Assert.AreEqual(0, load.ExitCode, load.Describe());
        StringAssert.Contains(load.Output, "Loaded image: " + reference);

        // Another machine: not in the daemon, no obj/. The object is streamed into docker load; nothing is built.
        DockerHelper.RemoveRepositoryImages(ws.Repository);
        Directory.Delete(Path.Combine(ws.ProjectDirectory, "obj"), recursive: true);
        var second = ws.Build(args, verbosity: "n", environment: environment);
        Assert.AreEqual(reference, second.AssertResult("hit-pulled"));
        Assert.IsFalse(second.Output.Contains("Building with", StringComparison.Ordinal), "a hit never builds" + second.Describe());
        StringAssert.StartsWith(DockerHelper.Cat(reference, "/flavour"), "flavour=", "the exported reference runs locally after the hit");
    }

    [TestMethod]
    public void Directory_MissWritesTheEntry_HitLoadsIt_TruncatedEntryIsRebuilt()
    {
        var ws = CreateWorkspace();
        var cache = Path.Combine(ws.Root, "docker-caches");
        var args = new[] { "-p:EcrCacheProvider=directory", "-p:EcrCacheDirectory=" + cache, "-p:EcrCacheDirectoryMaxSizeMB=512" };

        var first = ws.Build(args);
        var reference = first.AssertResult("built");
        var entry = Path.Combine(cache, first.Tag + ".tar.gz");
        Assert.IsTrue(File.Exists(entry), "no entry " + entry + first.Describe());
        Assert.IsTrue(File.Exists(Path.Combine(cache, "latest.tar.gz")), "latest.tar.gz" + first.Describe());
        Assert.AreEqual(0, Directory.GetFiles(cache, "*.tmp").Length, "no temp file is left behind");

        // Another machine that restored the CI cache folder.
        DockerHelper.RemoveRepositoryImages(ws.Repository);
        Directory.Delete(Path.Combine(ws.ProjectDirectory, "obj"), recursive: true);
        var second = ws.Build(args);
        Assert.AreEqual(reference, second.AssertResult("hit-pulled"));
        StringAssert.StartsWith(DockerHelper.Cat(reference, "/flavour"), "flavour=", "the exported reference runs locally after the hit");

        // A cache restore cut short: the entry is half a file. Warning, rebuilt, entry replaced.
        var whole = new FileInfo(entry).Length;
        using (var file = new FileStream(entry, FileMode.Open))
        {
            file.SetLength(whole / 2);
        }

        DockerHelper.RemoveRepositoryImages(ws.Repository);
        Directory.Delete(Path.Combine(ws.ProjectDirectory, "obj"), recursive: true);
        var third = ws.Build(args);
        Assert.AreEqual(reference, third.AssertResult("built"));
        Assert.IsTrue(third.HasWarning("ECRC1742"), "a truncated entry is a warning" + third.Describe());
        Assert.IsTrue(new FileInfo(entry).Length > whole / 2 + 1024, "the entry was rewritten whole");
    }

    [TestMethod]
    public void Directory_TwoBuildsOfOneKeyAtOnce_BuildOnce_AndLeaveOneWholeEntry()
    {
        // Two agents (two checkouts, two `dotnet build` processes) sharing one cache folder, same inputs.
        var first = CreateWorkspace();
        var second = CreateWorkspace(repository: first.Repository);
        var cache = Path.Combine(TestRoot, "shared-cache");
        var args = new[] { "-p:EcrCacheProvider=directory", "-p:EcrCacheDirectory=" + cache };

        BuildResult a, b;
        using (var runA = first.StartBuild(args))
        using (var runB = second.StartBuild(args))
        {
            a = new BuildResult(runA.WaitForExit(Workspace.BuildTimeout), first);
            b = new BuildResult(runB.WaitForExit(Workspace.BuildTimeout), second);
        }

        a.AssertSucceeded();
        b.AssertSucceeded();
        Assert.AreEqual(a.Reference, b.Reference, "same inputs, same key" + a.Describe() + b.Describe());
        var results = new[] { a.Result, b.Result };
        Log("results: " + string.Join(", ", results) + (a.Output.Contains("Another build holds", StringComparison.Ordinal) || b.Output.Contains("Another build holds", StringComparison.Ordinal) ? " (one waited on the lock)" : string.Empty));
        Assert.AreEqual(1, results.Count(r => r == "built"), "exactly one build writes the entry; the other waits on the key's lock and loads it, or finds the image local: " + string.Join(", ", results) + a.Describe() + b.Describe());
        Assert.AreEqual(0, Directory.GetFiles(cache, "*.tmp").Length, "no temp file is left behind");

        DockerHelper.RemoveRepositoryImages(first.Repository);
        var load = Shell.Bash("gunzip -c '" + Path.Combine(cache, a.Tag + ".tar.gz") + "' | " + Env.Docker + " load");
        Assert.IsTrue(load.Any(l => l.Contains("Loaded image: " + a.Reference, StringComparison.Ordinal)), "the entry is one whole image: " + string.Join("\n", load));
    }

    [TestMethod]
    public void KeyTargets_WorkWithTheTarballProviders_WithoutTouchingTheStore()
    {
        var ws = CreateWorkspace();
        var cache = Path.Combine(ws.Root, "never-created");

        // The S3 endpoint is a closed port: the key targets must not call S3 (nor need the bucket to exist).
        var environment = new Dictionary<string, string?> { ["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:9", ["AWS_ACCESS_KEY_ID"] = "testing", ["AWS_SECRET_ACCESS_KEY"] = "testing" };
        foreach (var args in new[]
        {
            new[] { "-p:EcrCacheProvider=s3", "-p:EcrCacheS3Bucket=some-bucket" },
            new[] { "-p:EcrCacheProvider=directory", "-p:EcrCacheDirectory=" + cache },
        })
        {
            var key = ws.Build(args, target: "ComputeCachedImageKey", environment: environment);
            Assert.AreEqual(0, key.ExitCode, "ComputeCachedImageKey with " + args[0] + key.Describe());
            Assert.IsTrue(File.Exists(ws.KeyPath), "key.txt" + key.Describe());
            var explain = ws.Build(args, target: "ExplainCachedImageKey", environment: environment);
            Assert.AreEqual(0, explain.ExitCode, "ExplainCachedImageKey with " + args[0] + explain.Describe());
        }

        Assert.IsFalse(Directory.Exists(cache), "the key targets do not create the cache folder");
        Assert.AreEqual(0, DockerHelper.TagsOf(ws.Repository).Count, "nothing was built");
    }

    [TestMethod]
    public void S3_WithoutBucket_IsECRC1700()
    {
        var ws = CreateWorkspace();
        var build = ws.Build("-p:EcrCacheProvider=s3");
        build.AssertFailedWith("ECRC1700");
    }
}
