using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text;
using EcrCache.Docker;
using EcrCache.Processes;

namespace EcrCache.Stores.Tarballs
{
    /// <summary>
    /// Streams images between the daemon and a gzipped tarball: 'docker save' stdout through GZip into any stream
    /// (a file, an S3 multipart upload), and any stream through gunzip into 'docker load' stdin. Nothing is staged on
    /// disk and memory stays bounded by one copy buffer, whatever the image size.
    /// </summary>
    /// <remarks>
    /// gzip, not zstd: the NuGet feeds CI uses have no maintained managed zstd library (ZstdSharp.Port and ZstdNet are
    /// absent), and a native zstd binding would have to ship per-platform binaries for both net8.0 and net472.
    /// System.IO.Compression's gzip at <see cref="CompressionLevel.Fastest"/> keeps up with 'docker save' on one core.
    /// </remarks>
    internal static class DockerArchive
    {
        public const int CopyBufferSize = 1024 * 1024;

        /// <summary>Buffers queued between the reading and the writing thread (memory: about this + 2 copy buffers).</summary>
        public const int PipelineDepth = 4;

        /// <summary>Compression level of saved tarballs (Fastest: the save is CPU-bound on the compressor otherwise).</summary>
        public static CompressionLevel Level { get; set; } = CompressionLevel.Fastest;

        /// <summary>
        /// 'docker save <paramref name="references"/>' gzipped into <paramref name="destination"/> (left open, flushed).
        /// Returns the uncompressed size. Throws DockerSaveFailed when docker fails; cancellation kills docker.
        /// </summary>
        public static async Task<long> SaveAsync(DockerCli docker, IReadOnlyList<string> references, Stream destination, IBuildLog log, CancellationToken cancellationToken)
        {
            var arguments = new List<string> { "save" };
            arguments.AddRange(references);
            log.Info(docker.Executable + " " + string.Join(" ", arguments) + " | gzip");
            using var child = new StreamingProcess(cancellationToken);
            long total = 0;
            Exception? copyError = null;
            var exitCode = await RunAsync(child, docker, arguments, writeInput: null, readOutput: async output =>
            {
                try
                {
                    using (var gzip = new GZipStream(destination, Level, leaveOpen: true))
                    {
                        // Reading docker's output and compressing overlap (two threads), as in 'docker save | gzip'.
                        var pumped = await PumpAsync(
                            (buffer, token) => output.ReadAsync(buffer, 0, buffer.Length, token),
                            (buffer, count, token) => gzip.WriteAsync(buffer, 0, count, token),
                            child.Kill,
                            cancellationToken).ConfigureAwait(false);
                        total = pumped.Total;
                        copyError = pumped.WriteError ?? pumped.ReadError;
                    }

                    if (copyError == null)
                    {
                        await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (!(ex is OperationCanceledException) || !cancellationToken.IsCancellationRequested)
                {
                    // Past the end of docker's output (the trailer, the flush): docker exits by itself.
                    copyError ??= ex;
                }
            }).ConfigureAwait(false);
            if (exitCode != 0)
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.DockerSaveFailed, string.Join(" ", references), exitCode, DockerCli.FirstLine(child.StandardError)), copyError);
            }

            if (copyError != null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(copyError).Throw();
            }

            return total;
        }

        /// <summary>
        /// Gunzips <paramref name="source"/> into 'docker load' and returns the references docker reports as loaded
        /// ("Loaded image: name:tag"). Data that is not a complete gzip stream, or that docker rejects as an archive,
        /// throws <see cref="StoreEntryUnusableException"/> (TarballUnusable); other docker failures DockerLoadFailed.
        /// </summary>
        public static async Task<IReadOnlyList<string>> LoadAsync(DockerCli docker, Stream source, string description, IBuildLog log, CancellationToken cancellationToken)
        {
            log.Info("gunzip < " + description + " | " + docker.Executable + " load");
            using var child = new StreamingProcess(cancellationToken);
            var stdout = new StringBuilder();
            Exception? dataError = null;
            Exception? pipeError = null;
            var exitCode = await RunAsync(child, docker, new[] { "load" }, writeInput: async input =>
            {
                // .NET's GZipStream reports a truncated stream as a normal end of data (it checks neither the CRC nor
                // the length). The tail of the compressed stream is kept to compare gzip's ISIZE trailer with what
                // was decompressed: a truncated tarball never reaches docker load's end of input.
                var tail = new TailStream(source);
                using var gzip = new GZipStream(tail, CompressionMode.Decompress, leaveOpen: true);

                // Decompressing and feeding docker overlap (two threads), as in 'gunzip | docker load'. An error reading
                // the source (network, disk) is not the entry's fault: it is thrown, which kills docker.
                var pumped = await PumpAsync(
                    (buffer, token) => gzip.ReadAsync(buffer, 0, buffer.Length, token),
                    (buffer, count, token) => input.WriteAsync(buffer, 0, count, token),
                    () => { },
                    cancellationToken).ConfigureAwait(false);
                if (pumped.WriteError is IOException || pumped.WriteError is ObjectDisposedException)
                {
                    // docker load stopped reading (it rejected the archive or failed; once it exits CliWrap closes its
                    // stdin): its exit code tells why.
                    pipeError = pumped.WriteError;
                }
                else if (pumped.WriteError != null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(pumped.WriteError).Throw();
                }
                else if (pumped.ReadError is InvalidDataException)
                {
                    dataError = pumped.ReadError;
                }
                else if (pumped.ReadError != null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(pumped.ReadError).Throw();
                }
                else
                {
                    dataError = pumped.Total == 0 ? new InvalidDataException("the tarball is empty") : await tail.CheckTrailerAsync(pumped.Total, cancellationToken).ConfigureAwait(false);
                }

                if (dataError != null)
                {
                    // Never hand docker a truncated archive: killed before its stdin closes, it loads nothing.
                    child.Kill();
                }
            }, readOutput: async output =>
            {
                using var reader = new StreamReader(output);
                stdout.Append(await reader.ReadToEndAsync().ConfigureAwait(false));
            }).ConfigureAwait(false);

            if (dataError != null)
            {
                throw new StoreEntryUnusableException(Diagnostic.Create(DiagnosticIds.TarballUnusable, description, "not a complete gzip stream: " + dataError.Message.TrimEnd('.')), dataError);
            }

            foreach (var line in stdout.ToString().Split('\n').Where(l => l.Trim().Length > 0))
            {
                log.Info(line.Trim());
            }

            if (exitCode != 0)
            {
                var error = DockerCli.FirstLine(child.StandardError);
                if (IsArchiveError(error))
                {
                    throw new StoreEntryUnusableException(Diagnostic.Create(DiagnosticIds.TarballUnusable, description, "docker load: " + error));
                }

                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.DockerLoadFailed, description, exitCode, error.Length == 0 ? "no message" : error), pipeError);
            }

            return ParseLoaded(stdout.ToString());
        }

        /// <summary>
        /// Copies with <paramref name="read"/> on a pool thread and <paramref name="write"/> on the caller, through a
        /// bounded queue of <see cref="PipelineDepth"/> buffers, so reading and writing overlap with bounded memory.
        /// Errors are returned, not thrown: a write error stops the reader and, unless the reader had already reached
        /// the end of the data, calls <paramref name="abortReader"/> (e.g. kills the child that the reader waits on).
        /// Cancellation throws.
        /// </summary>
        private static async Task<(long Total, Exception? ReadError, Exception? WriteError)> PumpAsync(
            Func<byte[], CancellationToken, Task<int>> read,
            Func<byte[], int, CancellationToken, Task> write,
            Action abortReader,
            CancellationToken cancellationToken)
        {
            using var queue = new BlockingCollection<(byte[] Buffer, int Count)>(PipelineDepth);
            var pool = new ConcurrentBag<byte[]>();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Exception? readError = null;
            var endOfData = false;
            var producer = Task.Run(async () =>
            {
                try
                {
                    while (!stop.IsCancellationRequested)
                    {
                        if (!pool.TryTake(out var buffer))
                        {
                            buffer = new byte[CopyBufferSize];
                        }

                        var n = await read(buffer, stop.Token).ConfigureAwait(false);
                        if (n == 0)
                        {
                            Volatile.Write(ref endOfData, true);
                            break;
                        }

                        queue.Add((buffer, n), stop.Token);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
                catch (Exception ex)
                {
                    readError = ex;
                }
                finally
                {
                    queue.CompleteAdding();
                }
            });

            long total = 0;
            Exception? writeError = null;
            try
            {
                while (queue.TryTake(out var item, Timeout.Infinite))
                {
                    await write(item.Buffer, item.Count, stop.Token).ConfigureAwait(false);
                    total += item.Count;
                    pool.Add(item.Buffer);
                }
            }
            catch (Exception ex)
            {
                writeError = ex;
                stop.Cancel();
                if (!Volatile.Read(ref endOfData))
                {
                    // A child that has closed its output is exiting by itself, with an exit code worth reporting.
                    abortReader();
                }
            }

            await producer.ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return (total, readError, writeError);
        }

        /// <summary>The name:tag references of 'docker load' output lines "Loaded image: name:tag".</summary>
        internal static IReadOnlyList<string> ParseLoaded(string stdout)
        {
            const string Marker = "Loaded image: ";
            return stdout.Split('\n')
                .Select(l => l.Trim())
                .Where(l => l.StartsWith(Marker, StringComparison.Ordinal))
                .Select(l => l.Substring(Marker.Length).Trim())
                .Where(l => l.Length > 0)
                .ToList();
        }

        /// <summary>docker's messages for an archive that is not a valid image tarball.</summary>
        internal static bool IsArchiveError(string message) =>
            message.IndexOf("unexpected EOF", StringComparison.OrdinalIgnoreCase) >= 0
            || message.IndexOf("invalid tar header", StringComparison.OrdinalIgnoreCase) >= 0
            || message.IndexOf("archive/tar", StringComparison.OrdinalIgnoreCase) >= 0
            || message.IndexOf("manifest.json", StringComparison.OrdinalIgnoreCase) >= 0
            || message.IndexOf("does not exist", StringComparison.OrdinalIgnoreCase) >= 0
            || message.IndexOf("invalid argument", StringComparison.OrdinalIgnoreCase) >= 0;

        /// <summary>Runs docker with <paramref name="arguments"/> in <paramref name="child"/>; a docker that cannot be started is DockerNotFound.</summary>
        private static async Task<int> RunAsync(StreamingProcess child, DockerCli docker, IEnumerable<string> arguments, Func<Stream, Task>? writeInput, Func<Stream, Task>? readOutput)
        {
            try
            {
                return await child.RunAsync(docker.Executable, arguments, docker.Environment, writeInput, readOutput).ConfigureAwait(false);
            }
            catch (ProcessStartException ex)
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.DockerNotFound, docker.Executable), ex);
            }
        }

        /// <summary>A read-through stream that remembers the last 8 bytes it passed on (gzip's CRC32 and ISIZE).</summary>
        private sealed class TailStream : Stream
        {
            private readonly Stream _inner;
            private readonly byte[] _tail = new byte[8];
            private long _count;

            public TailStream(Stream inner) => _inner = inner;

            public override bool CanRead => true;

            public override bool CanSeek => false;

            public override bool CanWrite => false;

            public override long Length => throw new NotSupportedException();

            public override long Position
            {
                get => _count;
                set => throw new NotSupportedException();
            }

            public override int Read(byte[] buffer, int offset, int count) => Remember(buffer, offset, _inner.Read(buffer, offset, count));

            public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                Remember(buffer, offset, await _inner.ReadAsync(buffer, offset, count, cancellationToken).ConfigureAwait(false));

            /// <summary>
            /// After the decompressor's end of data: reads whatever is left (a complete stream has nothing left), then
            /// compares ISIZE (the uncompressed length mod 2^32) with <paramref name="decompressed"/>. Null when they match.
            /// </summary>
            public async Task<Exception?> CheckTrailerAsync(long decompressed, CancellationToken cancellationToken)
            {
                var rest = new byte[64 * 1024];
                while (await ReadAsync(rest, 0, rest.Length, cancellationToken).ConfigureAwait(false) > 0)
                {
                }

                if (_count < 18)
                {
                    return new InvalidDataException("the gzip stream is shorter than its header and trailer");
                }

                var size = (uint)(_tail[4] | (_tail[5] << 8) | (_tail[6] << 16) | (_tail[7] << 24));
                return size == (uint)(decompressed & 0xFFFFFFFF)
                    ? null
                    : new InvalidDataException("the stream ends early (gzip's length trailer says " + size + " bytes mod 2^32, " + decompressed + " were decompressed): the tarball is truncated");
            }

            public override void Flush()
            {
            }

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();

            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            private int Remember(byte[] buffer, int offset, int read)
            {
                if (read >= 8)
                {
                    Buffer.BlockCopy(buffer, offset + read - 8, _tail, 0, 8);
                }
                else if (read > 0)
                {
                    Buffer.BlockCopy(_tail, read, _tail, 0, 8 - read);
                    Buffer.BlockCopy(buffer, offset, _tail, 8 - read, read);
                }

                _count += read;
                return read;
            }
        }
    }
}
