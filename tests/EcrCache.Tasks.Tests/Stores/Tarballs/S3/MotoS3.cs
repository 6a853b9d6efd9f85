using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using EcrCache.Tasks.Tests.Stores.Ecr;

namespace EcrCache.Tasks.Tests.Stores.Tarballs.S3
{
    /// <summary>Buckets in the shared moto_server, read back with the AWS SDK (moto is the only S3 here).</summary>
    internal static class MotoS3
    {
        public const string Region = "us-east-1";

        public static AmazonS3Client Client(string endpoint) =>
            new AmazonS3Client(
                new BasicAWSCredentials("testing", "testing"),
                new AmazonS3Config { ServiceURL = endpoint, ForcePathStyle = true, AuthenticationRegion = Region });

        public static string NewBucket(AmazonS3Client client)
        {
            var bucket = "ecrcache-test-" + Guid.NewGuid().ToString("N").Substring(0, 16);
            client.PutBucketAsync(new PutBucketRequest { BucketName = bucket }).GetAwaiter().GetResult();
            return bucket;
        }

        /// <summary>Deletes every object, aborts every multipart upload, deletes the bucket (best effort).</summary>
        public static void DeleteBucket(AmazonS3Client client, string bucket)
        {
            try
            {
                foreach (var key in Keys(client, bucket))
                {
                    client.DeleteObjectAsync(bucket, key).GetAwaiter().GetResult();
                }

                foreach (var upload in Uploads(client, bucket))
                {
                    client.AbortMultipartUploadAsync(bucket, upload.Key, upload.UploadId).GetAwaiter().GetResult();
                }

                client.DeleteBucketAsync(bucket).GetAwaiter().GetResult();
            }
            catch (Exception)
            {
                // The shared moto forgets everything when it restarts anyway.
            }
        }

        public static List<string> Keys(AmazonS3Client client, string bucket) =>
            (client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket }).GetAwaiter().GetResult().S3Objects ?? new List<S3Object>())
            .Select(o => o.Key).ToList();

        public static List<MultipartUpload> Uploads(AmazonS3Client client, string bucket) =>
            client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket }).GetAwaiter().GetResult().MultipartUploads ?? new List<MultipartUpload>();

        public static Func<string, string?> Environment(string endpoint, IDictionary<string, string>? extra = null)
        {
            var values = new Dictionary<string, string> { ["AWS_REGION"] = Region, ["AWS_ENDPOINT_URL_S3"] = endpoint };
            if (extra != null)
            {
                foreach (var pair in extra)
                {
                    values[pair.Key] = pair.Value;
                }
            }

            var baseEnvironment = Moto.Environment("http://127.0.0.1:9/not-s3", values);
            return baseEnvironment;
        }

        public static void Download(AmazonS3Client client, string bucket, string key, string path)
        {
            using var response = client.GetObjectAsync(bucket, key).GetAwaiter().GetResult();
            using var file = File.Create(path);
            response.ResponseStream.CopyTo(file);
        }
    }
}
