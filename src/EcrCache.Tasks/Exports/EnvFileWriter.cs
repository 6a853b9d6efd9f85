using System.Security;
using System.Text;
using EcrCache.IO;

namespace EcrCache.Exports
{
    /// <summary>
    /// Writes a shell file of <c>export NAME='value'</c> lines that a later build step sources
    /// (<c>. path</c>) to see the image EcrCache resolved, and its PowerShell twin of <c>$env:NAME = 'value'</c> lines
    /// for Windows agents, whose PowerShell hooks cannot source a POSIX file.
    /// </summary>
    internal static class EnvFileWriter
    {
        /// <summary>What <see cref="PowerShellPath"/> appends to the env file's path.</summary>
        public const string PowerShellSuffix = ".ps1";

        // UTF-8 without a byte order mark: a BOM in front of the first line would make a shell run it as a command.
        private static readonly Encoding Utf8NoBom = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        // With a byte order mark: Windows PowerShell 5.1 reads a .ps1 file without one in the ANSI code page, which
        // would garble non-ASCII values; PowerShell 7 reads either.
        private static readonly byte[] Utf8Bom = { 0xEF, 0xBB, 0xBF };

        /// <summary>The PowerShell file that goes beside the env file at <paramref name="envFile"/>: <c>image.env.ps1</c>.</summary>
        public static string PowerShellPath(string envFile) => envFile + PowerShellSuffix;

        /// <summary>True when <paramref name="name"/> is a portable shell variable name (<c>^[A-Za-z_][A-Za-z0-9_]*$</c>).</summary>
        /// <remarks>Checked character by character: a Regex <c>$</c> would also accept a trailing newline.</remarks>
        public static bool IsValidName(string? name)
        {
            if (string.IsNullOrEmpty(name))
            {
                return false;
            }

            for (var i = 0; i < name!.Length; i++)
            {
                var c = name[i];
                var ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
                if (!ok)
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>
        /// Writes the variables, in order, to <paramref name="path"/> (creating its directory). The file is replaced
        /// atomically (a temporary file in the same directory is renamed over it) and only when its content changes,
        /// so its timestamp stays put for incremental builds. Lines end in <c>\n</c> on every OS; the encoding is
        /// UTF-8 without BOM; on Unix the mode is 0644 (the values are image references, not secrets).
        /// </summary>
        /// <returns>True when the file was created or its content changed; false when it already held this content.</returns>
        /// <exception cref="ArgumentException">A name is not a valid shell name or is repeated, or a value holds NUL.</exception>
        /// <exception cref="EcrCacheException"><see cref="DiagnosticIds.EnvFileWriteFailed"/> for any IO failure.</exception>
        public static bool Write(string path, IReadOnlyList<KeyValuePair<string, string>> variables) =>
            Write(path, variables, fullPath => Utf8NoBom.GetBytes(Render(fullPath, variables)));

        /// <summary>
        /// Like <see cref="Write(string, IReadOnlyList{KeyValuePair{string, string}})"/>, but a PowerShell script of
        /// <c>$env:NAME = 'value'</c> lines to dot-source (<c>. path</c>), UTF-8 with a byte order mark.
        /// </summary>
        /// <returns>True when the file was created or its content changed; false when it already held this content.</returns>
        /// <exception cref="ArgumentException">A name is not a valid shell name or is repeated, or a value holds NUL.</exception>
        /// <exception cref="EcrCacheException"><see cref="DiagnosticIds.EnvFileWriteFailed"/> for any IO failure.</exception>
        public static bool WritePowerShell(string path, IReadOnlyList<KeyValuePair<string, string>> variables) =>
            Write(path, variables, fullPath => Concat(Utf8Bom, Utf8NoBom.GetBytes(RenderPowerShell(fullPath, variables))));

        private static bool Write(string path, IReadOnlyList<KeyValuePair<string, string>> variables, Func<string, byte[]> render)
        {
            if (path == null)
            {
                throw new ArgumentNullException(nameof(path));
            }

            if (variables == null)
            {
                throw new ArgumentNullException(nameof(variables));
            }

            if (path.Trim().Length == 0)
            {
                throw new ArgumentException("The env file path is empty.", nameof(path));
            }

            string fullPath;
            try
            {
                fullPath = Path.GetFullPath(path);
            }
            catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException || ex is IOException || ex is SecurityException)
            {
                throw Failed(path, ex);
            }

            var content = render(fullPath);

            try
            {
                var directory = Path.GetDirectoryName(fullPath);
                if (!string.IsNullOrEmpty(directory))
                {
                    Directory.CreateDirectory(directory);
                }

                if (File.Exists(fullPath) && ContentEquals(File.ReadAllBytes(fullPath), content))
                {
                    return false;
                }

                WriteAtomically(fullPath, directory ?? ".", content);
                return true;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is NotSupportedException || ex is SecurityException)
            {
                throw Failed(fullPath, ex);
            }
        }

        /// <summary>The exact text <see cref="Write(string, IReadOnlyList{KeyValuePair{string, string}})"/> puts in the file at <paramref name="fullPath"/>.</summary>
        internal static string Render(string fullPath, IReadOnlyList<KeyValuePair<string, string>> variables) =>
            Render(
                "Source this file: . " + CommentSafe(ShellQuoting.QuoteIfNeeded(fullPath)),
                variables,
                (name, value) => "export " + name + "=" + ShellQuoting.SingleQuote(value));

        /// <summary>The exact text <see cref="WritePowerShell"/> puts in the file at <paramref name="fullPath"/> (after the BOM).</summary>
        internal static string RenderPowerShell(string fullPath, IReadOnlyList<KeyValuePair<string, string>> variables) =>
            Render(
                "Dot-source this file in PowerShell: . " + CommentSafe(PowerShellQuoting.SingleQuote(fullPath)),
                variables,
                // A shell variable name is also a plain $env: name: no braces or quoting needed.
                (name, value) => "$env:" + name + " = " + PowerShellQuoting.SingleQuote(value));

        /// <summary>A comment that says how to load the file, then one assignment line per (checked) variable.</summary>
        private static string Render(string howToLoad, IReadOnlyList<KeyValuePair<string, string>> variables, Func<string, string, string> assignment)
        {
            var sb = new StringBuilder();
            sb.Append("# Written by EcrCache. ").Append(howToLoad).Append('\n');
            foreach (var pair in Checked(variables))
            {
                sb.Append(assignment(pair.Key, pair.Value)).Append('\n');
            }

            return sb.ToString();
        }

        private static IEnumerable<KeyValuePair<string, string>> Checked(IReadOnlyList<KeyValuePair<string, string>> variables)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var pair in variables)
            {
                if (!IsValidName(pair.Key))
                {
                    throw new ArgumentException(
                        "'" + pair.Key + "' is not a valid shell variable name: use letters, digits and underscores, not starting with a digit.",
                        nameof(variables));
                }

                if (!seen.Add(pair.Key))
                {
                    throw new ArgumentException("The variable '" + pair.Key + "' is given more than once.", nameof(variables));
                }

                if (pair.Value == null)
                {
                    throw new ArgumentException("The variable '" + pair.Key + "' has no value.", nameof(variables));
                }

                if (pair.Value.IndexOf('\0') >= 0)
                {
                    throw new ArgumentException("The value of '" + pair.Key + "' contains a NUL character.", nameof(variables));
                }
            }

            return variables;
        }

        private static byte[] Concat(byte[] a, byte[] b)
        {
            var result = new byte[a.Length + b.Length];
            Buffer.BlockCopy(a, 0, result, 0, a.Length);
            Buffer.BlockCopy(b, 0, result, a.Length, b.Length);
            return result;
        }

        /// <summary>Keeps the header a single comment line whatever the path holds.</summary>
        private static string CommentSafe(string text)
        {
            var sb = new StringBuilder(text.Length);
            foreach (var c in text)
            {
                sb.Append(c < ' ' || c == '\u007f' || c == '\u0085' || c == '\u2028' || c == '\u2029' ? '?' : c);
            }

            return sb.ToString();
        }

        private static bool ContentEquals(byte[] a, byte[] b)
        {
            if (a.Length != b.Length)
            {
                return false;
            }

            for (var i = 0; i < a.Length; i++)
            {
                if (a[i] != b[i])
                {
                    return false;
                }
            }

            return true;
        }

        private static void WriteAtomically(string fullPath, string directory, byte[] content)
        {
            var temp = Path.Combine(directory, "." + Path.GetFileName(fullPath) + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".tmp");
            try
            {
                using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    stream.Write(content, 0, content.Length);
                    stream.Flush(flushToDisk: true);
                }

#if !NETFRAMEWORK
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(
                        temp,
                        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                }

#endif

                // Readers see the old or the new file.
                AtomicFile.MoveReplacing(temp, fullPath);
            }
            finally
            {
                AtomicFile.TryDelete(temp);
            }
        }

        private static EcrCacheException Failed(string path, Exception ex)
        {
            var diagnostic = Diagnostic.Create(DiagnosticIds.EnvFileWriteFailed, path, ex.Message.TrimEnd('.', ' '));
            return new EcrCacheException(diagnostic, ex);
        }
    }
}
