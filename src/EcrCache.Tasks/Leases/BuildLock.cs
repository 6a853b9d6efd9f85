using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace EcrCache.Leases
{
    /// <summary>
    /// The same-host half of "one build per key": an exclusive lock on a file named after the store and tag, in a
    /// folder shared by the builds of this user (<c>ECRCACHE_LOCK_DIR</c>, else <c>$XDG_RUNTIME_DIR/ecrcache-locks</c>,
    /// else <c>&lt;temp&gt;/ecrcache-locks</c>). It is a real lock (FileShare.None: flock on Unix, a sharing lock on
    /// Windows), released when the handle closes, including when the process dies, so a crashed build never leaves
    /// it held. A sidecar <c>.owner</c> file names the holder for the waiters' log.
    /// </summary>
    public sealed class BuildLock : IDisposable
    {
        private readonly FileStream _stream;
        private readonly string _ownerPath;

        private BuildLock(string path, FileStream stream)
        {
            Path = path;
            _stream = stream;
            _ownerPath = path + ".owner";
        }

        public string Path { get; }

        public static string Directory(Func<string, string?> environment)
        {
            var configured = environment("ECRCACHE_LOCK_DIR");
            if (!string.IsNullOrWhiteSpace(configured))
            {
                return configured!;
            }

            var runtime = environment("XDG_RUNTIME_DIR");
            return System.IO.Path.Combine(string.IsNullOrWhiteSpace(runtime) ? System.IO.Path.GetTempPath() : runtime!, "ecrcache-locks");
        }

        /// <summary>The lock file for an image reference (store image + tag): a hash, so any reference is a safe name.</summary>
        public static string PathFor(string directory, string reference)
        {
            byte[] hash;
            using (var sha = SHA256.Create())
            {
                hash = sha.ComputeHash(Encoding.UTF8.GetBytes(reference));
            }

            var name = new StringBuilder();
            for (var i = 0; i < 16; i++)
            {
                name.Append(hash[i].ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            }

            return System.IO.Path.Combine(directory, name + ".lock");
        }

        /// <summary>Takes the lock if it is free; null when another process holds it. IO errors other than "held" throw.</summary>
        public static BuildLock? TryAcquire(string path, string ownerText)
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

            var held = new BuildLock(path, stream);
            try
            {
                File.WriteAllText(held._ownerPath, ownerText);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // The owner note is only for logs.
            }

            return held;
        }

        /// <summary>Who holds the lock, as its owner wrote it (best effort).</summary>
        public static string DescribeHolder(string path)
        {
            try
            {
                var text = File.ReadAllText(path + ".owner").Trim();
                return text.Length == 0 ? "another build on this machine" : text;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return "another build on this machine";
            }
        }

        public void Dispose()
        {
            try
            {
                File.Delete(_ownerPath);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // Harmless: the next owner overwrites it.
            }

            _stream.Dispose();
        }
    }
}
