using Amazon.S3;
using Amazon.S3.Model;
using EcrCache.Docker;
using EcrCache.Processes;
using EcrCache.Stores.Tarballs.S3;
using EcrCache.Tasks.Tests.Core;
using EcrCache.Tasks.Tests.Stores.Ecr;

namespace EcrCache.Tasks.Tests.Stores.Tarballs.S3
{
    /// <summary>EcrCacheKeepCount on the S3 store, against moto: after a push only the newest N key tarballs stay.</summary>
    [TestClass]
    [TestCategory(Categories.Moto)]
    public sealed class S3KeepCountMotoTests
    {
        private AmazonS3Client _s3 = null!;
        private string _bucket = "";

        [TestInitialize]
        public void SetUp()
        {
            _s3 = MotoS3.Client(Moto.Endpoint);
            _bucket = MotoS3.NewBucket(_s3);
        }

        [TestCleanup]
        public void TearDown()
        {
            if (_s3 != null)
            {
                MotoS3.DeleteBucket(_s3, _bucket);
                _s3.Dispose();
            }
        }

        private static string Key(int n) => n.ToString("x24");

        [TestMethod]
        public async Task AfterAPush_KeyTarballsBeyondTheNewestAreDeleted_OtherObjectsStay()
        {
            const string prefix = "build-cache/app/";
            var others = new[] { prefix + "latest.tar.gz", prefix + Key(9) + ".lease", prefix + "branch-main.tar.gz", prefix + "nested/" + Key(8) + ".tar.gz", "other/" + Key(7) + ".tar.gz" };
            foreach (var key in others)
            {
                await _s3.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = key, ContentBody = "x" });
            }

            for (var i = 1; i <= 4; i++)
            {
                // Upload times a second apart: S3's LastModified is what orders the tarballs.
                await _s3.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = prefix + Key(i) + ".tar.gz", ContentBody = "x" });
                await Task.Delay(1100);
            }

            var log = new CapturingBuildLog();
            using var client = MotoS3.Client(Moto.Endpoint);
            var store = new S3TarballStore(client, "us-east-1", _bucket, prefix, "build-cache/app", 0, new DockerCli("docker", ProcessRunner.Instance, log), log) { KeepCount = 2 };
            await store.PruneBeyondKeepCountAsync(prefix + Key(4) + ".tar.gz", CancellationToken.None);

            var left = MotoS3.Keys(_s3, _bucket).OrderBy(k => k, StringComparer.Ordinal).ToArray();
            var expected = others.Concat(new[] { prefix + Key(3) + ".tar.gz", prefix + Key(4) + ".tar.gz" }).OrderBy(k => k, StringComparer.Ordinal).ToArray();
            CollectionAssert.AreEqual(expected, left, string.Join(" | ", log.Lines));
            Assert.AreEqual(0, log.Warnings.Count, string.Join(" | ", log.Warnings));
        }
    }
}
