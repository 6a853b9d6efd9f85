using Amazon.S3;
using Amazon.S3.Model;
using EcrCache.Core;
using EcrCache.Docker;
using EcrCache.Options;
using EcrCache.Stores.Ecr;

namespace EcrCache.Stores.Tarballs.S3
{
    /// <summary>
    /// EcrCacheProvider=s3: one gzipped 'docker save' tarball per key at s3://bucket/&lt;prefix&gt;&lt;tag&gt;.tar.gz.
    /// Existence is one HEAD of the object. A hit streams the object through gunzip into 'docker load'; a miss streams
    /// 'docker save' through gzip into a multipart upload that is completed only when every byte is stored, and
    /// aborted on any failure or cancel, so a partial tarball never appears under the final key. Expiry is a bucket
    /// lifecycle rule on the prefix (written only when it differs). The image name is the repository, as with the
    /// local provider: after a hit the image is in the local daemon under that name.
    /// </summary>
    internal sealed class S3TarballStore : IImageStore, ITarballStore, Leases.ILeaseCapableStore
    {
        public const string Extension = ".tar.gz";
        public const string LatestName = "latest";

        /// <summary>Default part size: 8 MiB parts allow 80 GB objects; with 2 in flight memory stays under 24 MiB.</summary>
        public const int DefaultPartSize = 8 * 1024 * 1024;

        private readonly IAmazonS3 _client;
        private readonly DockerCli _docker;
        private readonly IBuildLog _log;
        private readonly string _region;
        private bool _prepared;

        public S3TarballStore(IAmazonS3 client, string region, string bucket, string prefix, string image, int maxAgeDays, DockerCli docker, IBuildLog log)
        {
            _client = client;
            _region = region;
            Bucket = bucket;
            Prefix = prefix;
            Image = image;
            MaxAgeDays = maxAgeDays;
            _docker = docker;
            _log = log;
            Description = "s3://" + bucket + "/" + prefix;
        }

        public string Image { get; }

        public string Description { get; }

        public bool HasRemote => true;

        public string Bucket { get; }

        public string Prefix { get; }

        public int MaxAgeDays { get; }

        /// <summary>EcrCachePush=false: the bucket is only read (its lifecycle configuration is left alone).</summary>
        public bool ReadOnly { get; set; }

        /// <summary>Key tarballs kept after a push, newest first (EcrCacheKeepCount); 0 for no count limit.</summary>
        public int KeepCount { get; set; }

        /// <summary>Bytes per uploaded part (at least 5 MiB, S3's minimum).</summary>
        public int PartSize { get; set; } = DefaultPartSize;

        /// <summary>Parts uploaded at once while the next one fills.</summary>
        public int MaxPartsInFlight { get; set; } = 2;

        /// <summary>Part buffers the last upload allocated (at most <see cref="MaxPartsInFlight"/> + 1, whatever the size).</summary>
        public int LastUploadBuffers { get; private set; }

        /// <summary>Tests: called after each uploaded part with the part number and the bytes stored so far.</summary>
        public Action<int, long>? PartUploaded { get; set; }

        /// <summary>Builds the store for the engine (region, endpoint and credentials as the ECR provider resolves them).</summary>
        public static S3TarballStore Create(CacheOptions options, DockerCli docker, IBuildLog log)
        {
            var tarball = options.Tarball ?? throw new InvalidOperationException("The s3 provider has no options.");
            var settings = S3ClientFactory.ResolveSettings(tarball.Region, options.Environment);
            log.Detail("S3 region " + settings.Region + " (from " + settings.RegionSource + ")"
                + (settings.EndpointOverridden ? ", endpoint " + settings.Endpoint + " (" + settings.EndpointSource + ", path-style)" : string.Empty) + ".");
            var client = S3ClientFactory.Create(settings, new DefaultAwsCredentialSource(options.Environment));
            return new S3TarballStore(client, settings.Region, tarball.S3Bucket!, tarball.S3Prefix, options.Repository, tarball.MaxAgeDays, docker, log)
            {
                ReadOnly = !options.Push,
                KeepCount = tarball.KeepCount,
            };
        }

        public string ObjectKey(string name) => Prefix + (name.EndsWith(Extension, StringComparison.Ordinal) ? name : name + Extension);

        /// <summary>Build leases next to the tarballs: conditional PutObject, a true compare-and-set (docs/reliability.md).</summary>
        public Leases.ILeaseBackend? LeaseBackend => new Leases.S3LeaseBackend(_client, Bucket, Prefix, Description);

        public string ObjectUri(string name) => "s3://" + Bucket + "/" + ObjectKey(name);

        public string? MetaDataValue(string tag) => ObjectUri(tag);

        public async Task PrepareAsync(CancellationToken cancellationToken)
        {
            if (_prepared)
            {
                return;
            }

            if (!ReadOnly)
            {
                await EnsureLifecycleRuleAsync(cancellationToken).ConfigureAwait(false);
            }

            _prepared = true;
        }

        public async Task<bool> ExistsAsync(string tag, CancellationToken cancellationToken)
        {
            var key = ObjectKey(tag);
            try
            {
                await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = Bucket, Key = key }, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (Exception ex) when (S3Errors.IsNotFound(ex))
            {
                return false;
            }
            catch (Exception ex) when (!(ex is OperationCanceledException))
            {
                throw S3Errors.Map(ex, "GetObject (HEAD)", Bucket + "/" + key, _region);
            }
        }

        public async Task FetchAsync(string tag, CancellationToken cancellationToken)
        {
            var loaded = await LoadAsync(ObjectKey(tag), cancellationToken).ConfigureAwait(false);
            if (loaded == null)
            {
                throw new StoreEntryUnusableException(Diagnostic.Create(DiagnosticIds.TarballUnusable, ObjectUri(tag), "the object disappeared between the lookup and the download"));
            }
        }

        public async Task PublishAsync(string tag, bool updateLatest, CancellationToken cancellationToken)
        {
            var key = ObjectKey(tag);
            await UploadAsync(new[] { Image + ":" + tag }, key, cancellationToken).ConfigureAwait(false);
            if (updateLatest)
            {
                await CopyObjectAsync(tag, LatestName, cancellationToken).ConfigureAwait(false);
            }

            await PruneBeyondKeepCountAsync(key, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>Each extra tag is a server-side copy of the key's object under the tag's name, as latest is.</summary>
        public async Task TagAsync(string tag, IReadOnlyList<string> tags, CancellationToken cancellationToken)
        {
            foreach (var extra in tags.Where(t => !string.Equals(t, tag, StringComparison.Ordinal)))
            {
                try
                {
                    await CopyObjectAsync(tag, extra, cancellationToken).ConfigureAwait(false);
                }
                catch (EcrCacheException ex)
                {
                    throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.ImageTagFailed, extra, ObjectUri(tag), Description, ex.Diagnostic.ToString()), ex);
                }
            }
        }

        private async Task CopyObjectAsync(string tag, string name, CancellationToken cancellationToken)
        {
            var target = ObjectKey(name);
            try
            {
                // A server-side copy: no second upload. The copy holds image:tag, which is what a later
                // --cache-from needs (PrepareCacheFromAsync returns the reference docker load reports).
                await _client.CopyObjectAsync(
                    new CopyObjectRequest { SourceBucket = Bucket, SourceKey = ObjectKey(tag), DestinationBucket = Bucket, DestinationKey = target, ContentType = "application/gzip" },
                    cancellationToken).ConfigureAwait(false);
                _log.Info("Copied " + ObjectUri(tag) + " to " + ObjectUri(name) + ".");
            }
            catch (Exception ex) when (!(ex is OperationCanceledException))
            {
                throw S3Errors.Map(ex, "PutObject (copy)", Bucket + "/" + target, _region);
            }
        }

        /// <summary>
        /// After a push: deletes the key tarballs directly under the prefix beyond the newest KeepCount (by upload time),
        /// never <paramref name="justPushed"/>, latest or any other name. A failure is a warning: the cache still works.
        /// </summary>
        internal async Task PruneBeyondKeepCountAsync(string justPushed, CancellationToken cancellationToken)
        {
            if (KeepCount <= 0)
            {
                return;
            }

            try
            {
                var keys = new List<S3Object>();
                var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = Prefix, Delimiter = "/" };
                ListObjectsV2Response page;
                do
                {
                    page = await _client.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
                    keys.AddRange((page.S3Objects ?? new List<S3Object>()).Where(o => IsKeyObject(o.Key)));
                    request.ContinuationToken = page.NextContinuationToken;
                }
                while (page.IsTruncated == true && !string.IsNullOrEmpty(page.NextContinuationToken));

                foreach (var old in Retention.BeyondNewest(keys, KeepCount, o => o.LastModified ?? DateTime.MinValue, o => o.Key))
                {
                    if (string.Equals(old.Key, justPushed, StringComparison.Ordinal))
                    {
                        continue;
                    }

                    await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = old.Key }, cancellationToken).ConfigureAwait(false);
                    _log.Info("Pruned s3://" + Bucket + "/" + old.Key + " (older than the newest " + KeepCount + " tarballs, EcrCacheKeepCount=" + KeepCount + ").");
                }
            }
            catch (Exception ex) when (!(ex is OperationCanceledException))
            {
                var reason = ex is EcrCacheException coded ? coded.Diagnostic.ToString() : S3Errors.Map(ex, "ListObjectsV2/DeleteObject", Bucket + "/" + Prefix, _region).Diagnostic.ToString();
                _log.Warning(Diagnostic.Create(DiagnosticIds.TarballPruneFailed, Description, KeepCount, reason));
            }
        }

        private bool IsKeyObject(string key) =>
            key.Length > Prefix.Length + Extension.Length && key.StartsWith(Prefix, StringComparison.Ordinal) && key.EndsWith(Extension, StringComparison.Ordinal)
            && Retention.IsKeyTag(key.Substring(Prefix.Length, key.Length - Prefix.Length - Extension.Length));

        /// <inheritdoc />
        public async Task<string?> PrepareCacheFromAsync(string? cacheFrom, CancellationToken cancellationToken)
        {
            var name = string.IsNullOrWhiteSpace(cacheFrom) ? LatestName : cacheFrom!.Trim();
            if (BuildOptions.IsFullReference(name))
            {
                // An image in a registry: docker build fetches its cache itself.
                return name;
            }

            var key = ObjectKey(name);
            if (name.StartsWith("s3://", StringComparison.Ordinal))
            {
                _log.Warning(Diagnostic.Create(DiagnosticIds.TarballUnusable, name, "a cache source must be a name under " + Description + " such as latest, not another location"));
                return null;
            }

            try
            {
                var loaded = await LoadAsync(key, cancellationToken).ConfigureAwait(false);
                if (loaded == null)
                {
                    _log.Detail("No layer-cache source " + "s3://" + Bucket + "/" + key + "; building without one.");
                    return null;
                }

                return loaded.FirstOrDefault();
            }
            catch (StoreEntryUnusableException ex)
            {
                _log.Warning(ex.Diagnostic);
            }
            catch (EcrCacheException ex)
            {
                // The layer cache is an optimisation: a failure to get it never fails the build.
                _log.Warning(Diagnostic.Create(DiagnosticIds.TarballUnusable, "s3://" + Bucket + "/" + key, ex.Diagnostic.ToString()));
            }

            return null;
        }

        public void Dispose() => _client.Dispose();

        /// <summary>
        /// Streams 'docker save' of <paramref name="references"/> into a multipart upload to <paramref name="key"/>.
        /// Completes the upload only after every part is stored; aborts it on any failure or cancel.
        /// </summary>
        internal async Task UploadAsync(IReadOnlyList<string> references, string key, CancellationToken cancellationToken)
        {
            string uploadId;
            try
            {
                var initiated = await _client.InitiateMultipartUploadAsync(
                    new InitiateMultipartUploadRequest { BucketName = Bucket, Key = key, ContentType = "application/gzip" },
                    cancellationToken).ConfigureAwait(false);
                uploadId = initiated.UploadId;
            }
            catch (Exception ex) when (!(ex is OperationCanceledException))
            {
                throw S3Errors.Map(ex, "PutObject", Bucket + "/" + key, _region);
            }

            var started = DateTime.UtcNow;
            using var sink = new S3MultipartUploadStream(_client, Bucket, key, uploadId, PartSize, MaxPartsInFlight, cancellationToken) { PartUploaded = PartUploaded };
            try
            {
                var raw = await DockerArchive.SaveAsync(_docker, references, sink, _log, cancellationToken).ConfigureAwait(false);
                var parts = await sink.CompleteAsync(cancellationToken).ConfigureAwait(false);
                LastUploadBuffers = sink.BuffersAllocated;
                cancellationToken.ThrowIfCancellationRequested();
                await _client.CompleteMultipartUploadAsync(
                    new CompleteMultipartUploadRequest { BucketName = Bucket, Key = key, UploadId = uploadId, PartETags = parts },
                    cancellationToken).ConfigureAwait(false);
                var seconds = Math.Max((DateTime.UtcNow - started).TotalSeconds, 0.001);
                _log.Info($"Uploaded s3://{Bucket}/{key}: {Megabytes(sink.Length)} MB gzipped from {Megabytes(raw)} MB in {seconds:0.00} s ({parts.Count} parts, {raw / 1048576.0 / seconds:0.0} MB/s of image).");
            }
            catch (Exception ex)
            {
                await sink.DrainAsync().ConfigureAwait(false);
                await AbortAsync(key, uploadId).ConfigureAwait(false);
                if (ex is OperationCanceledException || ex is EcrCacheException)
                {
                    throw;
                }

                throw S3Errors.Map(ex, "PutObject", Bucket + "/" + key, _region);
            }
        }

        /// <summary>Streams an object into docker load; null when the object does not exist.</summary>
        private async Task<IReadOnlyList<string>?> LoadAsync(string key, CancellationToken cancellationToken)
        {
            GetObjectResponse response;
            try
            {
                response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = Bucket, Key = key }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (S3Errors.IsNotFound(ex) && !S3Errors.IsMissingBucket(ex))
            {
                return null;
            }
            catch (Exception ex) when (!(ex is OperationCanceledException))
            {
                throw S3Errors.Map(ex, "GetObject", Bucket + "/" + key, _region);
            }

            using (response)
            {
                var started = DateTime.UtcNow;
                try
                {
                    var loaded = await DockerArchive.LoadAsync(_docker, response.ResponseStream, "s3://" + Bucket + "/" + key, _log, cancellationToken).ConfigureAwait(false);
                    var seconds = Math.Max((DateTime.UtcNow - started).TotalSeconds, 0.001);
                    _log.Detail($"Downloaded and loaded {Megabytes(response.ContentLength)} MB in {seconds:0.00} s.");
                    return loaded;
                }
                catch (Exception ex) when (!(ex is OperationCanceledException) && !(ex is EcrCacheException) && !(ex is StoreEntryUnusableException))
                {
                    throw S3Errors.Map(ex, "GetObject", Bucket + "/" + key, _region);
                }
            }
        }

        private async Task AbortAsync(string key, string uploadId)
        {
            try
            {
                // Not the build's token: it may be the reason we are here, and the abort must still happen.
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = Bucket, Key = key, UploadId = uploadId }, timeout.Token).ConfigureAwait(false);
                _log.Detail("Aborted the multipart upload of s3://" + Bucket + "/" + key + "; nothing was stored under that key.");
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                _log.Detail("Could not abort the multipart upload " + uploadId + " of s3://" + Bucket + "/" + key + " (" + ex.Message + "); the lifecycle rule removes it after " + S3LifecycleRules.AbortIncompleteUploadDays + " day.");
            }
        }

        private async Task EnsureLifecycleRuleAsync(CancellationToken cancellationToken)
        {
            if (MaxAgeDays <= 0)
            {
                _log.Detail("EcrCacheMaxAgeDays=0: the lifecycle configuration of bucket " + Bucket + " is left alone.");
                return;
            }

            List<LifecycleRule>? rules = null;
            try
            {
                var current = await _client.GetLifecycleConfigurationAsync(new GetLifecycleConfigurationRequest { BucketName = Bucket }, cancellationToken).ConfigureAwait(false);
                rules = current.Configuration?.Rules;
            }
            catch (AmazonS3Exception ex) when (ex.ErrorCode == "NoSuchLifecycleConfiguration")
            {
                rules = null;
            }
            catch (Exception ex) when (S3Errors.IsMissingBucket(ex))
            {
                throw S3Errors.Map(ex, "GetLifecycleConfiguration", Bucket, _region);
            }
            catch (Exception ex) when (!(ex is OperationCanceledException))
            {
                var mapped = S3Errors.Map(ex, "GetLifecycleConfiguration", Bucket, _region);
                if (mapped.Diagnostic.Code == Diagnostic.Create(DiagnosticIds.S3CredentialsMissing, "").Code)
                {
                    throw mapped;
                }

                _log.Warning(Diagnostic.Create(DiagnosticIds.S3LifecycleRuleFailed, Bucket, Prefix, MaxAgeDays, mapped.Diagnostic.ToString()));
                return;
            }

            if (S3LifecycleRules.Matches(rules, Prefix, MaxAgeDays))
            {
                _log.Detail("The lifecycle rule of s3://" + Bucket + "/" + Prefix + " already expires tarballs " + MaxAgeDays + " days after upload.");
                return;
            }

            try
            {
                await _client.PutLifecycleConfigurationAsync(
                    new PutLifecycleConfigurationRequest
                    {
                        BucketName = Bucket,
                        Configuration = new LifecycleConfiguration { Rules = S3LifecycleRules.Merge(rules, Prefix, MaxAgeDays) },
                    },
                    cancellationToken).ConfigureAwait(false);
                _log.Info("Set the lifecycle rule " + S3LifecycleRules.RuleId(Prefix) + " of bucket " + Bucket + ": tarballs under " + Prefix + " expire " + MaxAgeDays + " days after upload.");
            }
            catch (Exception ex) when (!(ex is OperationCanceledException))
            {
                _log.Warning(Diagnostic.Create(DiagnosticIds.S3LifecycleRuleFailed, Bucket, Prefix, MaxAgeDays, S3Errors.Map(ex, "PutLifecycleConfiguration", Bucket, _region).Diagnostic.ToString()));
            }
        }

        private static string Megabytes(long bytes) => (bytes / 1048576.0).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
    }
}
