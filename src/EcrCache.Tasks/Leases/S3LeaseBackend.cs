using System.Net;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace EcrCache.Leases
{
    /// <summary>
    /// Build leases as S3 objects <c>&lt;prefix&gt;&lt;tag&gt;.lease</c> holding the <see cref="LeaseRecord"/> JSON. S3
    /// has conditional writes, so this is a true compare-and-set: a free lease is taken with
    /// <c>PutObject If-None-Match: *</c> and an expired one replaced with <c>If-Match: &lt;ETag read&gt;</c>; the loser
    /// gets 412 and waits. Releasing deletes the object (only the holder does, after checking the id).
    /// </summary>
    internal sealed class S3LeaseBackend : ILeaseBackend
    {
        public const string Extension = ".lease";

        private readonly IAmazonS3 _client;
        private readonly string _bucket;
        private readonly string _prefix;
        private readonly string _where;
        private readonly Dictionary<string, string> _etags = new Dictionary<string, string>(StringComparer.Ordinal);

        public S3LeaseBackend(IAmazonS3 client, string bucket, string prefix, string where)
        {
            _client = client;
            _bucket = bucket;
            _prefix = prefix;
            _where = where;
        }

        public bool NeedsSettleDelay => false;

        public string ObjectKey(string tag) => _prefix + tag + Extension;

        public string Describe(string tag) => "lease object s3://" + _bucket + "/" + ObjectKey(tag) + " in " + _where;

        public async Task<LeaseRecord?> ReadAsync(string tag, CancellationToken cancellationToken)
        {
            try
            {
                using var response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = ObjectKey(tag) }, cancellationToken).ConfigureAwait(false);
                using var reader = new StreamReader(response.ResponseStream, Encoding.UTF8);
                var record = LeaseRecord.FromJson(await reader.ReadToEndAsync().ConfigureAwait(false));
                if (record != null)
                {
                    lock (_etags)
                    {
                        _etags[record.Id] = response.ETag;
                    }
                }

                return record;
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }
            catch (AmazonServiceException ex)
            {
                throw new LeaseStoreException("reading " + Describe(tag) + " failed: " + ex.Message, ex);
            }
        }

        public async Task<bool> WriteAsync(string tag, LeaseRecord record, LeaseRecord? replacing, CancellationToken cancellationToken)
        {
            try
            {
                if (record.Released)
                {
                    await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = ObjectKey(tag) }, cancellationToken).ConfigureAwait(false);
                    return true;
                }

                var request = new PutObjectRequest
                {
                    BucketName = _bucket,
                    Key = ObjectKey(tag),
                    ContentBody = record.ToJson(),
                    ContentType = "application/json",
                };
                string? etag = null;
                if (replacing != null)
                {
                    lock (_etags)
                    {
                        _etags.TryGetValue(replacing.Id, out etag);
                    }
                }

                if (etag != null)
                {
                    request.IfMatch = etag;
                }
                else
                {
                    request.IfNoneMatch = "*";
                }

                var response = await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
                lock (_etags)
                {
                    _etags[record.Id] = response.ETag;
                }

                return true;
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.PreconditionFailed || ex.StatusCode == HttpStatusCode.Conflict)
            {
                // Someone else wrote the lease first (412), or a concurrent conditional write is in flight (409).
                return false;
            }
            catch (AmazonServiceException ex)
            {
                throw new LeaseStoreException("writing " + Describe(tag) + " failed: " + ex.Message, ex);
            }
        }
    }

    /// <summary>A lease store failed in a way that only costs coordination (the coordinator warns ECRC1321).</summary>
    internal sealed class LeaseStoreException : Exception
    {
        public LeaseStoreException(string message, Exception? inner = null)
            : base(message, inner)
        {
        }
    }
}
