using System.Collections.Concurrent;
using Amazon.S3;
using Amazon.S3.Model;

namespace EcrCache.Stores.Tarballs.S3
{
    /// <summary>
    /// A write-only stream that turns what is written into the parts of one S3 multipart upload: each full part buffer
    /// is uploaded in the background while the next one fills, with at most <see cref="MaxInFlight"/> parts in flight.
    /// Memory is bounded by (MaxInFlight + 1) part buffers whatever the object size. The caller owns the upload:
    /// <see cref="CompleteAsync"/> returns the part ETags for CompleteMultipartUpload; on any failure the caller aborts it.
    /// </summary>
    internal sealed class S3MultipartUploadStream : Stream
    {
        /// <summary>S3's smallest part (except the last).</summary>
        public const int MinPartSize = 5 * 1024 * 1024;

        /// <summary>S3's largest part number.</summary>
        public const int MaxParts = 10000;

        private readonly IAmazonS3 _client;
        private readonly string _bucket;
        private readonly string _key;
        private readonly string _uploadId;
        private readonly int _partSize;
        private readonly SemaphoreSlim _slots;
        private readonly ConcurrentBag<byte[]> _free = new ConcurrentBag<byte[]>();
        private readonly List<Task<PartETag>> _parts = new List<Task<PartETag>>();
        private readonly CancellationToken _cancellationToken;
        private byte[] _current;
        private int _filled;
        private long _length;
        private bool _completed;

        public S3MultipartUploadStream(IAmazonS3 client, string bucket, string key, string uploadId, int partSize, int maxInFlight, CancellationToken cancellationToken)
        {
            _client = client;
            _bucket = bucket;
            _key = key;
            _uploadId = uploadId;
            _partSize = Math.Max(partSize, MinPartSize);
            MaxInFlight = Math.Max(1, maxInFlight);
            _slots = new SemaphoreSlim(MaxInFlight, MaxInFlight);
            _cancellationToken = cancellationToken;
            _current = new byte[_partSize];
        }

        public int MaxInFlight { get; }

        /// <summary>Part buffers allocated so far (at most MaxInFlight + 1).</summary>
        public int BuffersAllocated { get; private set; } = 1;

        /// <summary>Called (on a pool thread) after each part is stored, with its number and the bytes stored so far.</summary>
        public Action<int, long>? PartUploaded { get; set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _length;

        public override long Position
        {
            get => _length;
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) =>
            WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override async Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            if (_completed)
            {
                throw new InvalidOperationException("The upload is already complete.");
            }

            while (count > 0)
            {
                var n = Math.Min(count, _partSize - _filled);
                Buffer.BlockCopy(buffer, offset, _current, _filled, n);
                _filled += n;
                _length += n;
                offset += n;
                count -= n;
                if (_filled == _partSize)
                {
                    await StartPartAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        /// <summary>Uploads the last (possibly short) part and waits for every part; returns their ETags in order.</summary>
        public async Task<List<PartETag>> CompleteAsync(CancellationToken cancellationToken)
        {
            if (_filled > 0 || _parts.Count == 0)
            {
                await StartPartAsync(cancellationToken).ConfigureAwait(false);
            }

            _completed = true;
            var etags = await Task.WhenAll(_parts).ConfigureAwait(false);
            return etags.OrderBy(p => p.PartNumber).ToList();
        }

        /// <summary>Waits for parts still in flight, ignoring their outcome (before an abort, so none lands after it).</summary>
        public async Task DrainAsync()
        {
            try
            {
                await Task.WhenAll(_parts).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The caller is already failing; it aborts the upload next.
            }
        }

        private async Task StartPartAsync(CancellationToken cancellationToken)
        {
            // Fail fast when an earlier part failed.
            var failed = _parts.FirstOrDefault(t => t.IsFaulted || t.IsCanceled);
            if (failed != null)
            {
                await failed.ConfigureAwait(false);
            }

            if (_parts.Count >= MaxParts)
            {
                throw new InvalidOperationException("The tarball needs more than " + MaxParts + " parts of " + _partSize + " bytes.");
            }

            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            var data = _current;
            var length = _filled;
            var number = _parts.Count + 1;
            _parts.Add(UploadPartAsync(number, data, length));
            if (!_free.TryTake(out var next))
            {
                next = new byte[_partSize];
                BuffersAllocated++;
            }

            _current = next;
            _filled = 0;
        }

        private async Task<PartETag> UploadPartAsync(int number, byte[] data, int length)
        {
            try
            {
                using var content = new MemoryStream(data, 0, length, writable: false);
                var response = await _client.UploadPartAsync(
                    new UploadPartRequest
                    {
                        BucketName = _bucket,
                        Key = _key,
                        UploadId = _uploadId,
                        PartNumber = number,
                        PartSize = length,
                        InputStream = content,
                    },
                    _cancellationToken).ConfigureAwait(false);
                PartUploaded?.Invoke(number, (long)number * _partSize);
                return new PartETag(response);
            }
            finally
            {
                _free.Add(data);
                _slots.Release();
            }
        }
    }
}
