using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace EcrCache.Tarballs.Directory
{
    /// <summary>
    /// An exclusive lock on one cache entry, shared by every process on the machine: a lock file opened with
    /// <see cref="FileShare.None"/> (.NET takes an flock on Unix and a sharing lock on Windows). The operating system
    /// releases it when the process dies, so a killed build never leaves a stale lock. Lock files are never deleted
    /// (deleting one while another process waits on it would split the lock).
    /// </summary>
    public sealed class KeyLock : IDisposable
    {
        private FileStream? _stream;

        private KeyLock(FileStream stream, string path)
        {
            _stream = stream;
            Path = path;
        }

        public string Path { get; }

        /// <summary>Takes the lock if nobody holds it; null otherwise.</summary>
        public static KeyLock? TryAcquire(string path)
        {
            System.IO.Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            try
            {
                var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
                return new KeyLock(stream, path);
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                // Windows reports a file held by another process this way in some cases.
                return null;
            }
        }

        /// <summary>Waits for the lock (polling); <paramref name="onWait"/> is called once when it has to wait.</summary>
        public static async Task<KeyLock> AcquireAsync(string path, Action? onWait, CancellationToken cancellationToken)
        {
            var waited = false;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var acquired = TryAcquire(path);
                if (acquired != null)
                {
                    return acquired;
                }

                if (!waited)
                {
                    waited = true;
                    onWait?.Invoke();
                }

                await Task.Delay(250, cancellationToken).ConfigureAwait(false);
            }
        }

        public void Dispose()
        {
            Interlocked.Exchange(ref _stream, null)?.Dispose();
        }
    }
}
