namespace EcrCache.Processes
{
    /// <summary>
    /// Finds a bare command name on a given PATH. CliWrap hands the name to .NET's Process.Start, which searches the
    /// parent's PATH, not the PATH given to the child, so we resolve it ourselves to honour a PATH set for the child.
    /// </summary>
    internal static class ExecutableLocator
    {
        /// <summary>A name without a directory part: the OS looks it up on PATH.</summary>
        public static bool IsBareName(string fileName) =>
            fileName.IndexOf('/') < 0 && fileName.IndexOf(Path.DirectorySeparatorChar) < 0;

        /// <summary>
        /// The full path of <paramref name="fileName"/> on <paramref name="pathVariable"/>, or
        /// <paramref name="fileName"/> unchanged when it is not a bare name or is not found (the OS then decides,
        /// and a missing program surfaces as a start failure).
        /// </summary>
        public static string Resolve(string fileName, string? pathVariable)
        {
            if (!IsBareName(fileName) || string.IsNullOrEmpty(pathVariable))
            {
                return fileName;
            }

            var windows = Path.DirectorySeparatorChar == '\\';
            var extensions = windows && !Path.HasExtension(fileName)
                ? (System.Environment.GetEnvironmentVariable("PATHEXT") ?? ".COM;.EXE;.BAT;.CMD").Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries)
                : new[] { string.Empty };

            foreach (var directory in pathVariable!.Split(new[] { Path.PathSeparator }, StringSplitOptions.RemoveEmptyEntries))
            {
                foreach (var extension in extensions)
                {
                    string candidate;
                    try
                    {
                        candidate = Path.Combine(directory.Trim('"'), fileName + extension);
                    }
                    catch (ArgumentException)
                    {
                        continue;
                    }

                    if (IsExecutableFile(candidate))
                    {
                        return Path.GetFullPath(candidate);
                    }
                }
            }

            return fileName;
        }

        private static bool IsExecutableFile(string path)
        {
            try
            {
                if (!File.Exists(path))
                {
                    return false;
                }

#if NETFRAMEWORK
                return true;
#else
                if (OperatingSystem.IsWindows())
                {
                    return true;
                }

                const UnixFileMode AnyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
                return (File.GetUnixFileMode(path) & AnyExecute) != 0;
#endif
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is ArgumentException || ex is NotSupportedException)
            {
                return false;
            }
        }
    }
}
