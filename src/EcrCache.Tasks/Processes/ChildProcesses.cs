using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace EcrCache.Processes
{
    /// <summary>
    /// What <see cref="ProcessRunner"/> and <see cref="StreamingProcess"/> both need to run a child: the start info
    /// (no shell, all three streams redirected, arguments passed one by one, environment overrides) and killing the
    /// whole child tree on cancellation.
    /// </summary>
    internal static class ChildProcesses
    {
        /// <summary>
        /// Start info for <paramref name="fileName"/> with stdin, stdout and stderr redirected (stderr decoded as UTF-8).
        /// An <paramref name="environment"/> value of null removes that variable from the child's environment.
        /// </summary>
        public static ProcessStartInfo CreateStartInfo(string fileName, IEnumerable<string> arguments, IEnumerable<KeyValuePair<string, string?>>? environment)
        {
            var psi = new ProcessStartInfo
            {
                FileName = fileName,
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                CreateNoWindow = true,
                StandardErrorEncoding = Encoding.UTF8,
            };
#if NETFRAMEWORK
            psi.Arguments = CommandLine.Join(arguments);
#else
            foreach (var argument in arguments)
            {
                psi.ArgumentList.Add(argument);
            }
#endif
            if (environment != null)
            {
                foreach (var pair in environment)
                {
                    if (pair.Value == null)
                    {
                        psi.Environment.Remove(pair.Key);
                    }
                    else
                    {
                        psi.Environment[pair.Key] = pair.Value;
                    }
                }
            }

            return psi;
        }

        /// <summary>Kills <paramref name="process"/> and its children (.NET Framework: the process only); a no-op when it has exited or was never started.</summary>
        public static void KillTree(Process process)
        {
            try
            {
                if (!process.HasExited)
                {
#if NETFRAMEWORK
                    process.Kill();
#else
                    process.Kill(entireProcessTree: true);
#endif
                }
            }
            catch (InvalidOperationException)
            {
                // Not started or already gone.
            }
            catch (Win32Exception)
            {
                // Already exiting.
            }
        }
    }
}
