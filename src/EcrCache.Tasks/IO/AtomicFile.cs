using System.Text;

namespace EcrCache.IO
{
    /// <summary>
    /// Writes files so that a reader sees either the old or the new content, never a half-written file: the content
    /// goes to a temporary file beside the target, which is then renamed over it. The one place that knows how to do
    /// that rename on both target frameworks (net472 has no <c>File.Move(..., overwrite)</c>).
    /// </summary>
    internal static class AtomicFile
    {
        private static readonly Encoding Utf8NoBom = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        /// <summary>
        /// Writes <paramref name="content"/> (UTF-8 without BOM) to <paramref name="path"/> unless the file already has
        /// exactly that text. Returns whether the file was written.
        /// </summary>
        public static bool WriteAllTextIfDifferent(string path, string content)
        {
            if (File.Exists(path) && string.Equals(File.ReadAllText(path), content, StringComparison.Ordinal))
            {
                return false;
            }

            WriteAllText(path, content);
            return true;
        }

        /// <summary>
        /// Writes <paramref name="content"/> (UTF-8 without BOM) to <paramref name="path"/> through a temporary file in
        /// the same folder, creating the folder if needed.
        /// </summary>
        public static void WriteAllText(string path, string content)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = path + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".tmp";
            try
            {
                File.WriteAllText(temp, content, Utf8NoBom);
                MoveReplacing(temp, path);
            }
            catch
            {
                TryDelete(temp);
                throw;
            }
        }

        /// <summary>
        /// Renames the finished <paramref name="temp"/> file to <paramref name="path"/>, replacing an existing file:
        /// rename(2) on Unix, MoveFileEx(MOVEFILE_REPLACE_EXISTING) on Windows; File.Replace on .NET Framework.
        /// Both files must be in the same folder.
        /// </summary>
        public static void MoveReplacing(string temp, string path)
        {
#if NETFRAMEWORK
            if (File.Exists(path))
            {
                File.Replace(temp, path, destinationBackupFileName: null);
                return;
            }

            try
            {
                File.Move(temp, path);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another writer created it in between; replace that one.
                File.Replace(temp, path, destinationBackupFileName: null);
            }
#else
            File.Move(temp, path, overwrite: true);
#endif
        }

        /// <summary>Deletes <paramref name="path"/> if it exists; a failure is ignored (a leftover .tmp file is harmless).</summary>
        public static void TryDelete(string path)
        {
            try
            {
                if (File.Exists(path))
                {
                    File.Delete(path);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
