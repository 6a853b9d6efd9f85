using System.Security.Cryptography;
using System.Text;

#if NET
using Microsoft.Win32.SafeHandles;
#endif

namespace EcrCache.Keys
{
    /// <summary>
    /// SHA-256 hashing with a reusable hasher and read buffer. One instance per thread; not thread-safe.
    /// </summary>
    internal sealed class HashWorker : IDisposable
    {
        internal const int DefaultBufferSize = 128 * 1024;

        private static readonly byte[] CarriageReturn = { (byte)'\r' };

        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly byte[] _buffer;
#if NET
        private const int TextChunkChars = 4096;
        private byte[]? _textBuffer;
        private Encoder? _encoder;
#endif

        public HashWorker(int bufferSize = DefaultBufferSize)
        {
            _buffer = bufferSize > 0 ? new byte[bufferSize] : Array.Empty<byte>();
        }

        public string HashUtf8(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            _sha.AppendData(bytes, 0, bytes.Length);
            return Finish();
        }

        /// <summary>Adds the UTF-8 of the text to the hash in progress (complete with <see cref="Finish"/>).</summary>
        public void AppendUtf8(StringBuilder text)
        {
            // Lines end with '\n', so a chunk never ends inside a surrogate pair.
#if NET
            // Encoded chunk by chunk into one reused buffer: no copy of the text and no byte array per call (the key
            // text of 100,000 files is ~15 MB of UTF-16). The encoder keeps a surrogate pair together across the
            // StringBuilder's own chunk boundaries; a lone surrogate becomes U+FFFD, as Encoding.UTF8.GetBytes does.
            _encoder ??= Encoding.UTF8.GetEncoder();
            _textBuffer ??= new byte[Encoding.UTF8.GetMaxByteCount(TextChunkChars + 1)];
            foreach (var chunk in text.GetChunks())
            {
                var span = chunk.Span;
                while (span.Length > 0)
                {
                    var take = Math.Min(span.Length, TextChunkChars);
                    var n = _encoder.GetBytes(span.Slice(0, take), _textBuffer, flush: false);
                    _sha.AppendData(_textBuffer, 0, n);
                    span = span.Slice(take);
                }
            }

            var last = _encoder.GetBytes(ReadOnlySpan<char>.Empty, _textBuffer, flush: true);
            _sha.AppendData(_textBuffer, 0, last);
#else
            var bytes = Encoding.UTF8.GetBytes(text.ToString());
            _sha.AppendData(bytes, 0, bytes.Length);
#endif
        }

        /// <summary>Returns the hash of everything added since the last result, and resets.</summary>
        public string Finish()
        {
#if NET
            Span<byte> hash = stackalloc byte[32];
            _sha.GetHashAndReset(hash);
            return Hex.ToLower(hash);
#else
            return Hex.ToLower(_sha.GetHashAndReset());
#endif
        }

        /// <summary>Hashes the file's bytes as they are, streamed.</summary>
        public string HashFile(string path, CancellationToken cancellationToken)
        {
#if NET
            using (var handle = OpenHandle(path))
            {
                long offset = 0;
                int n;
                while ((n = RandomAccess.Read(handle, _buffer, offset)) > 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    offset += n;
                    _sha.AppendData(_buffer, 0, n);
                }
            }
#else
            using (var stream = OpenRead(path))
            {
                int n;
                while ((n = stream.Read(_buffer, 0, _buffer.Length)) > 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    _sha.AppendData(_buffer, 0, n);
                }
            }
#endif
            return Finish();
        }

        /// <summary>Hashes the file's bytes with every CR LF pair replaced by LF (a lone CR is kept), streamed.</summary>
        public string HashFileNormalizingNewlines(string path, CancellationToken cancellationToken)
        {
            var pendingCr = false;
            using (var stream = OpenRead(path))
            {
                int n;
                while ((n = stream.Read(_buffer, 0, _buffer.Length)) > 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    AppendNormalizingNewlines(_buffer, n, ref pendingCr);
                }
            }

            if (pendingCr)
            {
                _sha.AppendData(CarriageReturn, 0, 1);
            }

            return Finish();
        }

        /// <summary>Hashes the UTF-8 of <paramref name="text"/> with every CR LF pair replaced by LF.</summary>
        public string HashUtf8NormalizingNewlines(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            var pendingCr = false;
            AppendNormalizingNewlines(bytes, bytes.Length, ref pendingCr);
            if (pendingCr)
            {
                _sha.AppendData(CarriageReturn, 0, 1);
            }

            return Finish();
        }

        /// <summary>Opens a file for one sequential read (no FileStream buffer: callers read big chunks).</summary>
        public static FileStream OpenRead(string path) =>
            new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.SequentialScan);

        public void Dispose() => _sha.Dispose();

#if NET
        private static SafeFileHandle OpenHandle(string path) =>
            File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.SequentialScan);
#endif

        // Compacts the chunk in place, dropping each CR that is followed by LF. A CR at the end of the chunk is held back
        // (pendingCr) until the next chunk shows whether an LF follows.
        private void AppendNormalizingNewlines(byte[] data, int count, ref bool pendingCr)
        {
            if (count == 0)
            {
                return;
            }

            if (pendingCr)
            {
                if (data[0] != (byte)'\n')
                {
                    _sha.AppendData(CarriageReturn, 0, 1);
                }

                pendingCr = false;
            }

            var write = 0;
            for (var read = 0; read < count; read++)
            {
                var b = data[read];
                if (b == (byte)'\r')
                {
                    if (read + 1 == count)
                    {
                        pendingCr = true;
                        continue;
                    }

                    if (data[read + 1] == (byte)'\n')
                    {
                        continue;
                    }
                }

                data[write++] = b;
            }

            _sha.AppendData(data, 0, write);
        }
    }

    internal static class Hex
    {
        private const string Digits = "0123456789abcdef";

#if NET
        public static string ToLower(ReadOnlySpan<byte> bytes)
        {
            Span<char> chars = stackalloc char[bytes.Length * 2];
            for (var i = 0; i < bytes.Length; i++)
            {
                chars[2 * i] = Digits[bytes[i] >> 4];
                chars[(2 * i) + 1] = Digits[bytes[i] & 0xF];
            }

            return new string(chars);
        }
#endif

        public static string ToLower(byte[] bytes)
        {
#if NET
            return string.Create(bytes.Length * 2, bytes, static (chars, b) =>
            {
                for (var i = 0; i < b.Length; i++)
                {
                    chars[2 * i] = Digits[b[i] >> 4];
                    chars[(2 * i) + 1] = Digits[b[i] & 0xF];
                }
            });
#else
            var chars = new char[bytes.Length * 2];
            for (var i = 0; i < bytes.Length; i++)
            {
                chars[2 * i] = Digits[bytes[i] >> 4];
                chars[(2 * i) + 1] = Digits[bytes[i] & 0xF];
            }

            return new string(chars);
#endif
        }
    }
}
