namespace EcrCache.IO
{
    /// <summary>
    /// An exclusive lock shared by every process on the machine: a lock file opened with <see cref="FileShare.None"/>
    /// (.NET takes an flock on Unix and a sharing lock on Windows). The operating system releases it when the handle
    /// closes, including when the process dies, so a killed build never leaves a stale lock. Lock files are never deleted
    /// (deleting one while another process waits on it would split the lock). An optional sidecar <c>.owner</c> file
    /// names the holder for the waiters' log.
    /// </summary>
    internal sealed class FileLock : IDisposable
    {
        private const string OwnerSuffix = ".owner";
        private FileStream? _stream;
        private readonly bool _wroteOwner;

        private FileLock(string path, FileStream stream, bool wroteOwner)
        {
            Path = path;
            _stream = stream;
            _wroteOwner = wroteOwner;
        }

        public string Path { get; }

        /// <summary>Takes the lock if it is free; null when another process holds it. Other IO errors throw.</summary>
        /// <param name="ownerText">Written to the <c>.owner</c> sidecar while held (best effort), or null for none.</param>
        public static FileLock? TryAcquire(string path, string? ownerText = null)
        {
            System.IO.Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException) when (File.Exists(path))
            {
                return null;
            }
            catch (UnauthorizedAccessException) when (File.Exists(path))
            {
                // Windows reports a file held by another process this way in some cases.
                return null;
            }

            if (ownerText == null)
            {
                return new FileLock(path, stream, wroteOwner: false);
            }

            try
            {
                File.WriteAllText(path + OwnerSuffix, ownerText);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // The owner note is only for logs.
            }

            return new FileLock(path, stream, wroteOwner: true);
        }

        /// <summary>Waits for the lock (polling); <paramref name="onWait"/> is called once when it has to wait.</summary>
        public static async Task<FileLock> AcquireAsync(string path, Action? onWait, CancellationToken cancellationToken)
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

        /// <summary>Who holds the lock, as its owner wrote it (best effort).</summary>
        public static string DescribeHolder(string path, string unknown)
        {
            try
            {
                var text = File.ReadAllText(path + OwnerSuffix).Trim();
                return text.Length == 0 ? unknown : text;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return unknown;
            }
        }

        public void Dispose()
        {
            var stream = Interlocked.Exchange(ref _stream, null);
            if (stream == null)
            {
                return;
            }

            if (_wroteOwner)
            {
                try
                {
                    File.Delete(Path + OwnerSuffix);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    // Harmless: the next owner overwrites it.
                }
            }

            stream.Dispose();
        }
    }
}
