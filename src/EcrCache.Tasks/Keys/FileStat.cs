using System.Runtime.InteropServices;

namespace EcrCache.Keys
{
    /// <summary>
    /// What the input stamp remembers about a file instead of its content: size, modification time and, on Linux,
    /// change time (ctime), inode and device. ctime cannot be set by tools (touch -d, tar, rsync -t set only mtime), so
    /// a content change that keeps the size and mtime still changes the stamp. Elsewhere only size and mtime are known.
    /// </summary>
    /// <param name="CtimeSeconds">0 where the platform does not report it.</param>
    internal readonly record struct FileStat(bool Exists, long Size, long MtimeSeconds, long MtimeNanoseconds, long CtimeSeconds, long CtimeNanoseconds, ulong Inode, ulong Device)
    {
        public static FileStat Missing => default;

        /// <summary>The later of mtime and ctime, in seconds since the Unix epoch (fractional).</summary>
        public double LatestChangeSeconds =>
            Math.Max(MtimeSeconds + (MtimeNanoseconds / 1e9), CtimeSeconds + (CtimeNanoseconds / 1e9));

        /// <summary>Stats <paramref name="path"/>, following symbolic links (the content is the target's).</summary>
        public static FileStat Of(string path)
        {
#if NET
            if (Statx.Available)
            {
                var stat = Statx.TryGet(path);
                if (stat.HasValue)
                {
                    return stat.Value;
                }
            }
#endif
            return FromFileInfo(path);
        }

        /// <summary>Stats many files, in parallel when there are many (each stat is a system call of a few microseconds).</summary>
        public static FileStat[] OfMany(IReadOnlyList<string> paths)
        {
            var stats = new FileStat[paths.Count];
            if (paths.Count < 2000 || Environment.ProcessorCount < 2)
            {
                for (var i = 0; i < stats.Length; i++)
                {
                    stats[i] = Of(paths[i]);
                }

                return stats;
            }

            System.Threading.Tasks.Parallel.For(0, stats.Length, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i => stats[i] = Of(paths[i]));
            return stats;
        }

        /// <summary>True when ctime and inode are known (statx on Linux).</summary>
        public static bool HasChangeTime
        {
            get
            {
#if NET
                return Statx.Available;
#else
                return false;
#endif
            }
        }

        private static FileStat FromFileInfo(string path)
        {
            try
            {
                var info = new FileInfo(path);
                if (!info.Exists)
                {
                    return Missing;
                }

                var ticks = info.LastWriteTimeUtc.Ticks - 621355968000000000L; // since 1970-01-01
                return new FileStat(true, info.Length, ticks / 10000000L, (ticks % 10000000L) * 100L, 0, 0, 0, 0);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is ArgumentException || ex is NotSupportedException || ex is System.Security.SecurityException)
            {
                return Missing;
            }
        }

#if NET
        /// <summary>statx(2) from the C library: one system call, a layout that is the same on every architecture.</summary>
        private static class Statx
        {
            private const int AtFdCwd = -100;
            private const uint BasicStats = 0x7ff;
            private const int ENOSYS = 38;
            private const int EPERM = 1;

            private static volatile bool _broken;

            public static bool Available => !_broken && RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

            public static FileStat? TryGet(string path)
            {
                try
                {
                    if (NativeMethods.statx(AtFdCwd, path, 0, BasicStats, out var buffer) == 0)
                    {
                        if ((buffer.Mode & 0xF000) == 0x4000)
                        {
                            return Missing; // a folder, as File.Exists sees it
                        }

                        return new FileStat(
                            true,
                            (long)buffer.Size,
                            buffer.Mtime.Seconds,
                            buffer.Mtime.Nanoseconds,
                            buffer.Ctime.Seconds,
                            buffer.Ctime.Nanoseconds,
                            buffer.Inode,
                            ((ulong)buffer.DevMajor << 32) | buffer.DevMinor);
                    }

                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == ENOSYS || errno == EPERM)
                    {
                        // An old kernel or a seccomp profile without statx: size and mtime from then on.
                        _broken = true;
                        return null;
                    }

                    return Missing; // ENOENT, ENOTDIR, EACCES, ...: the caller sees a missing file and does not trust the stamp
                }
                catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException || ex is MarshalDirectiveException)
                {
                    _broken = true;
                    return null;
                }
            }

            [StructLayout(LayoutKind.Sequential)]
            private struct Timestamp
            {
                public long Seconds;
                public uint Nanoseconds;
                public int Reserved;
            }

            // struct statx (linux/stat.h): 256 bytes, the same layout on every architecture.
            [StructLayout(LayoutKind.Sequential, Size = 256)]
            private struct Buffer
            {
                public uint Mask;
                public uint BlockSize;
                public ulong Attributes;
                public uint Links;
                public uint Uid;
                public uint Gid;
                public ushort Mode;
                public ushort Spare0;
                public ulong Inode;
                public ulong Size;
                public ulong Blocks;
                public ulong AttributesMask;
                public Timestamp Atime;
                public Timestamp Btime;
                public Timestamp Ctime;
                public Timestamp Mtime;
                public uint RdevMajor;
                public uint RdevMinor;
                public uint DevMajor;
                public uint DevMinor;
            }

            private static class NativeMethods
            {
                [DllImport("libc", SetLastError = true)]
                public static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string pathname, int flags, uint mask, out Buffer buffer);
            }
        }
#endif
    }
}
