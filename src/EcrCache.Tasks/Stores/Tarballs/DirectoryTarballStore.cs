using EcrCache.Core;
using EcrCache.Docker;
using EcrCache.IO;
using EcrCache.Options;

namespace EcrCache.Stores.Tarballs
{
    /// <summary>
    /// EcrCacheProvider=directory: one gzipped 'docker save' tarball per key at &lt;dir&gt;/&lt;tag&gt;.tar.gz, in a
    /// folder that a CI cache saves and restores. Entries are written to &lt;tag&gt;.tar.gz.&lt;random&gt;.tmp and renamed, so
    /// a killed build never leaves a truncated entry under the final name. A per-key lock file
    /// (&lt;dir&gt;/.ecrcache-locks/&lt;tag&gt;.lock) is held from a miss until the entry is written: a second build of the same
    /// key waits, then loads what the first one wrote. A truncated or corrupt entry is detected when loading (gzip or
    /// docker load error), deleted, and rebuilt. Pruning removes entries written more than EcrCacheMaxAgeDays ago and
    /// then least-recently-used entries (last access, touched on every hit) until the folder is under
    /// EcrCacheDirectoryMaxSizeMB; after a push, key entries beyond the newest EcrCacheKeepCount (by write time) go too.
    /// </summary>
    internal sealed class DirectoryTarballStore : IImageStore, ITarballStore
    {
        public const string Extension = ".tar.gz";
        public const string LatestName = "latest";
        public const string LockFolderName = ".ecrcache-locks";

        /// <summary>Temp files older than this whose key is not locked are leftovers of killed builds.</summary>
        private static readonly TimeSpan OrphanAge = TimeSpan.FromMinutes(10);

        private readonly DockerCli _docker;
        private readonly IBuildLog _log;
        private readonly Dictionary<string, FileLock> _held = new Dictionary<string, FileLock>(StringComparer.Ordinal);
        private bool _prepared;

        public DirectoryTarballStore(string directory, string image, int maxAgeDays, long maxBytes, DockerCli docker, IBuildLog log)
        {
            Folder = Path.GetFullPath(directory);
            Image = image;
            MaxAgeDays = maxAgeDays;
            MaxBytes = maxBytes;
            _docker = docker;
            _log = log;
            Description = "cache folder " + Folder;
        }

        public string Image { get; }

        public string Description { get; }

        public bool HasRemote => true;

        public string Folder { get; }

        public int MaxAgeDays { get; }

        public long MaxBytes { get; }

        /// <summary>EcrCachePush=false: the folder is only read (no pruning, no lock on a miss: nothing will be written).</summary>
        public bool ReadOnly { get; set; }

        /// <summary>Key entries kept after a push, newest first (EcrCacheKeepCount); 0 for no count limit.</summary>
        public int KeepCount { get; set; }

        /// <summary>Now, for pruning (tests move it).</summary>
        public Func<DateTime> UtcNow { get; set; } = () => DateTime.UtcNow;

        public static DirectoryTarballStore Create(CacheOptions options, DockerCli docker, IBuildLog log)
        {
            var tarball = options.Tarball ?? throw new InvalidOperationException("The directory provider has no options.");
            return new DirectoryTarballStore(tarball.Directory!, options.Repository, tarball.MaxAgeDays, tarball.DirectoryMaxBytes, docker, log)
            {
                ReadOnly = !options.Push,
                KeepCount = tarball.KeepCount,
            };
        }

        public string EntryPath(string name) => Path.Combine(Folder, name.EndsWith(Extension, StringComparison.Ordinal) ? name : name + Extension);

        public string LockPath(string name) => Path.Combine(Folder, LockFolderName, name + ".lock");

        /// <summary>Another machine cannot read this folder: meta-data keeps the image reference.</summary>
        public string? MetaDataValue(string tag) => null;

        public Task PrepareAsync(CancellationToken cancellationToken)
        {
            if (_prepared)
            {
                return Task.CompletedTask;
            }

            if (ReadOnly)
            {
                _prepared = true;
                return Task.CompletedTask;
            }

            try
            {
                System.IO.Directory.CreateDirectory(Folder);
                System.IO.Directory.CreateDirectory(Path.Combine(Folder, LockFolderName));
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is NotSupportedException)
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.DirectoryWriteFailed, Folder, ex.Message.TrimEnd('.')), ex);
            }

            Prune(keep: null);
            _prepared = true;
            return Task.CompletedTask;
        }

        public async Task<bool> ExistsAsync(string tag, CancellationToken cancellationToken)
        {
            await PrepareAsync(cancellationToken).ConfigureAwait(false);
            if (File.Exists(EntryPath(tag)))
            {
                return true;
            }

            if (ReadOnly)
            {
                return false;
            }

            // A miss: take the key's lock before building, so a concurrent build of the same key waits for this one
            // and then finds the entry instead of building it a second time.
            await HoldAsync(tag, cancellationToken).ConfigureAwait(false);
            if (File.Exists(EntryPath(tag)))
            {
                _log.Info("Another build wrote " + EntryPath(tag) + " while this one waited.");
                Release(tag);
                return true;
            }

            return false;
        }

        public async Task FetchAsync(string tag, CancellationToken cancellationToken)
        {
            var path = EntryPath(tag);
            try
            {
                await LoadEntryAsync(path, cancellationToken).ConfigureAwait(false);
            }
            catch (StoreEntryUnusableException)
            {
                // Keep the lock through the rebuild the engine does next, so nobody reads the entry we replace.
                await HoldAsync(tag, cancellationToken).ConfigureAwait(false);
                TryDelete(path);
                throw;
            }

            Touch(path);
        }

        public async Task PublishAsync(string tag, bool updateLatest, CancellationToken cancellationToken)
        {
            await PrepareAsync(cancellationToken).ConfigureAwait(false);
            await HoldAsync(tag, cancellationToken).ConfigureAwait(false);
            try
            {
                var path = EntryPath(tag);
                await WriteAtomicallyAsync(path, async stream =>
                {
                    var started = DateTime.UtcNow;
                    var raw = await DockerArchive.SaveAsync(_docker, new[] { Image + ":" + tag }, stream, _log, cancellationToken).ConfigureAwait(false);
                    var seconds = Math.Max((DateTime.UtcNow - started).TotalSeconds, 0.001);
                    _log.Info($"Saved {path}: {Mb(stream.Length)} MB gzipped from {Mb(raw)} MB in {seconds:0.00} s.");
                }, cancellationToken).ConfigureAwait(false);

                if (updateLatest)
                {
                    await CopyEntryAsync(path, LatestName, cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                Release(tag);
            }

            Prune(keep: EntryPath(tag));
        }

        /// <summary>
        /// Each extra tag is a copy of the key's entry under the tag's name (as latest is), so it resolves wherever an
        /// entry name does (EcrCacheCacheFrom); an up-to-date copy (same size, not older) is left alone.
        /// </summary>
        public async Task TagAsync(string tag, IReadOnlyList<string> tags, CancellationToken cancellationToken)
        {
            var path = EntryPath(tag);
            foreach (var extra in tags.Where(t => !string.Equals(t, tag, StringComparison.Ordinal)))
            {
                var target = new FileInfo(EntryPath(extra));
                var source = new FileInfo(path);
                if (target.Exists && target.Length == source.Length && target.LastWriteTimeUtc >= source.LastWriteTimeUtc)
                {
                    _log.Detail(target.FullName + " is already a copy of " + path + ".");
                    continue;
                }

                try
                {
                    await CopyEntryAsync(path, extra, cancellationToken).ConfigureAwait(false);
                }
                catch (EcrCacheException ex)
                {
                    throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.ImageTagFailed, extra, path, Description, ex.Diagnostic.ToString()), ex);
                }
            }
        }

        /// <inheritdoc />
        public async Task<string?> PrepareCacheFromAsync(string? cacheFrom, CancellationToken cancellationToken)
        {
            var name = string.IsNullOrWhiteSpace(cacheFrom) ? LatestName : cacheFrom!.Trim();
            if (Options.BuildOptions.IsFullReference(name))
            {
                // An image in a registry: docker build fetches its cache itself.
                return name;
            }

            if (name.IndexOfAny(new[] { '/', '\\' }) >= 0 || name.StartsWith(".", StringComparison.Ordinal))
            {
                _log.Warning(Diagnostic.Create(DiagnosticIds.TarballUnusable, name, "a cache source must be an entry name in " + Folder + " such as latest"));
                return null;
            }

            var path = EntryPath(name);
            if (!File.Exists(path))
            {
                _log.Detail("No layer-cache source " + path + "; building without one.");
                return null;
            }

            try
            {
                var loaded = await LoadEntryAsync(path, cancellationToken).ConfigureAwait(false);
                Touch(path);
                return loaded.FirstOrDefault();
            }
            catch (StoreEntryUnusableException ex)
            {
                _log.Warning(ex.Diagnostic);
                using (var held = FileLock.TryAcquire(LockPath(name)))
                {
                    if (held != null)
                    {
                        TryDelete(path);
                    }
                }
            }
            catch (EcrCacheException ex)
            {
                _log.Warning(Diagnostic.Create(DiagnosticIds.TarballUnusable, path, ex.Diagnostic.ToString()));
            }

            return null;
        }

        public void Dispose()
        {
            foreach (var held in _held.Values)
            {
                held.Dispose();
            }

            _held.Clear();
        }

        /// <summary>
        /// Removes entries written more than MaxAgeDays ago, leftovers of killed builds, then least-recently-used
        /// entries until the folder is under MaxBytes. Entries whose lock another build holds are skipped, and so is
        /// <paramref name="keep"/>. Failures are a warning: the cache still works.
        /// </summary>
        public void Prune(string? keep)
        {
            try
            {
                var now = UtcNow();
                var folder = new DirectoryInfo(Folder);
                if (!folder.Exists)
                {
                    return;
                }

                foreach (var temp in folder.GetFiles("*" + Extension + ".*.tmp"))
                {
                    var name = temp.Name.Substring(0, temp.Name.IndexOf(Extension + ".", StringComparison.Ordinal));
                    if (now - temp.LastWriteTimeUtc > OrphanAge && !_held.ContainsKey(name))
                    {
                        DeleteUnlocked(name, temp.FullName, "an unfinished write of a killed build");
                    }
                }

                var entries = folder.GetFiles("*" + Extension).ToList();
                if (MaxAgeDays > 0)
                {
                    foreach (var entry in entries.ToList())
                    {
                        var age = now - entry.LastWriteTimeUtc;
                        if (age > TimeSpan.FromDays(MaxAgeDays) && !IsSame(entry.FullName, keep)
                            && DeleteUnlocked(NameOf(entry), entry.FullName, $"written {age.TotalDays:0.0} days ago, EcrCacheMaxAgeDays={MaxAgeDays}"))
                        {
                            entries.Remove(entry);
                        }
                    }
                }

                if (KeepCount > 0 && keep != null)
                {
                    // Only after a push, and only key entries: latest and other names are never counted.
                    var keys = entries.Where(e => Retention.IsKeyTag(NameOf(e))).ToList();
                    foreach (var entry in Retention.BeyondNewest(keys, KeepCount, e => e.LastWriteTimeUtc, e => e.Name))
                    {
                        if (!IsSame(entry.FullName, keep) && DeleteUnlocked(NameOf(entry), entry.FullName, $"older than the newest {KeepCount} entries, EcrCacheKeepCount={KeepCount}"))
                        {
                            entries.Remove(entry);
                        }
                    }
                }

                if (MaxBytes > 0)
                {
                    var total = entries.Sum(e => e.Length);
                    foreach (var entry in entries.OrderBy(LastUsed))
                    {
                        if (total <= MaxBytes)
                        {
                            break;
                        }

                        if (!IsSame(entry.FullName, keep)
                            && DeleteUnlocked(NameOf(entry), entry.FullName, $"least recently used; the folder holds {Mb(total)} MB, EcrCacheDirectoryMaxSizeMB={MaxBytes / 1048576}"))
                        {
                            total -= entry.Length;
                        }
                    }

                    if (total > MaxBytes)
                    {
                        _log.Detail($"The cache folder holds {Mb(total)} MB, over EcrCacheDirectoryMaxSizeMB={MaxBytes / 1048576}: the rest is in use or just written.");
                    }
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                _log.Warning(Diagnostic.Create(DiagnosticIds.DirectoryPruneFailed, Folder, ex.Message.TrimEnd('.')));
            }
        }

        /// <summary>When an entry was last used: its last access (set on every hit) or its write, whichever is later.</summary>
        internal static DateTime LastUsed(FileInfo entry) =>
            entry.LastAccessTimeUtc > entry.LastWriteTimeUtc ? entry.LastAccessTimeUtc : entry.LastWriteTimeUtc;

        private static string NameOf(FileInfo entry) => entry.Name.Substring(0, entry.Name.Length - Extension.Length);

        private static bool IsSame(string path, string? other) =>
            other != null && string.Equals(Path.GetFullPath(path), Path.GetFullPath(other), StringComparison.Ordinal);

        private static string Mb(long bytes) => (bytes / 1048576.0).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);

        private async Task<IReadOnlyList<string>> LoadEntryAsync(string path, CancellationToken cancellationToken)
        {
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, DockerArchive.CopyBufferSize, useAsync: true);
            }
            catch (Exception ex) when (ex is FileNotFoundException || ex is DirectoryNotFoundException)
            {
                throw new StoreEntryUnusableException(Diagnostic.Create(DiagnosticIds.TarballUnusable, path, "it was removed between the lookup and the load"), ex);
            }

            using (stream)
            {
                var started = DateTime.UtcNow;
                var loaded = await DockerArchive.LoadAsync(_docker, stream, path, _log, cancellationToken).ConfigureAwait(false);
                var seconds = Math.Max((DateTime.UtcNow - started).TotalSeconds, 0.001);
                _log.Detail($"Loaded {Mb(stream.Length)} MB from {path} in {seconds:0.00} s.");
                return loaded;
            }
        }

        /// <summary>Copies the entry at <paramref name="path"/> to the entry <paramref name="name"/>, under that name's lock.</summary>
        private async Task CopyEntryAsync(string path, string name, CancellationToken cancellationToken)
        {
            using var nameLock = await FileLock.AcquireAsync(LockPath(name), null, cancellationToken).ConfigureAwait(false);
            await WriteAtomicallyAsync(EntryPath(name), async stream =>
            {
                using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, DockerArchive.CopyBufferSize, useAsync: true);
                await source.CopyToAsync(stream, DockerArchive.CopyBufferSize, cancellationToken).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            _log.Detail("Copied " + path + " to " + EntryPath(name) + ".");
        }

        private async Task WriteAtomicallyAsync(string path, Func<FileStream, Task> write, CancellationToken cancellationToken)
        {
            var temp = path + "." + Guid.NewGuid().ToString("N").Substring(0, 12) + ".tmp";
            try
            {
                using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, DockerArchive.CopyBufferSize, useAsync: true))
                {
                    await write(stream).ConfigureAwait(false);
                    await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                    stream.Flush(flushToDisk: true);
                }

                cancellationToken.ThrowIfCancellationRequested();
                AtomicFile.MoveReplacing(temp, path);
            }
            catch (Exception ex)
            {
                TryDelete(temp);
                if (ex is IOException || ex is UnauthorizedAccessException)
                {
                    throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.DirectoryWriteFailed, Folder, ex.Message.TrimEnd('.')), ex);
                }

                throw;
            }
        }

        private async Task HoldAsync(string name, CancellationToken cancellationToken)
        {
            if (_held.ContainsKey(name))
            {
                return;
            }

            var path = LockPath(name);
            _held[name] = await FileLock.AcquireAsync(
                path,
                () => _log.Info("Another build holds " + path + " (it is building or writing " + name + "); waiting for it."),
                cancellationToken).ConfigureAwait(false);
        }

        private void Release(string name)
        {
            if (_held.TryGetValue(name, out var held))
            {
                held.Dispose();
                _held.Remove(name);
            }
        }

        private bool DeleteUnlocked(string name, string path, string reason)
        {
            if (_held.ContainsKey(name))
            {
                return TryDelete(path, reason);
            }

            using var held = FileLock.TryAcquire(LockPath(name));
            if (held == null)
            {
                _log.Detail("Not pruning " + path + ": another build holds its lock.");
                return false;
            }

            return TryDelete(path, reason);
        }

        private bool TryDelete(string path, string? reason = null)
        {
            try
            {
                if (File.Exists(path))
                {
                    File.Delete(path);
                    if (reason != null)
                    {
                        _log.Info("Pruned " + path + " (" + reason + ").");
                    }
                }

                return true;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                _log.Detail("Could not delete " + path + ": " + ex.Message);
                return false;
            }
        }

        private void Touch(string path)
        {
            try
            {
                File.SetLastAccessTimeUtc(path, UtcNow());
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                _log.Detail("Could not record the use of " + path + ": " + ex.Message);
            }
        }
    }
}
