using System.ComponentModel;
using System.Text;
using CliWrap;

namespace EcrCache.Processes
{
    /// <summary>
    /// What <see cref="ProcessRunner"/> and <see cref="StreamingProcess"/> both need from CliWrap: a command (no shell,
    /// arguments passed one by one, environment overrides, any exit code accepted) and its start, with a start failure
    /// turned into <see cref="ProcessStartException"/>.
    /// </summary>
    /// <remarks>
    /// Cancelling the token given to <see cref="Execute"/> is CliWrap's forceful cancellation: it kills the whole child
    /// tree (Process.Kill(entireProcessTree) on net8.0; on .NET Framework a WMI walk of the children, Windows only) and
    /// returns once the child is gone, throwing <see cref="OperationCanceledException"/>.
    /// </remarks>
    internal static class ChildProcesses
    {
        /// <summary>UTF-8 without a byte order mark, for text on the child's stdin and from its stdout and stderr.</summary>
        public static readonly Encoding Utf8 = new UTF8Encoding(false);

        /// <summary>
        /// <paramref name="fileName"/> with <paramref name="arguments"/>. An <paramref name="environment"/> value of null
        /// removes that variable from the child's environment.
        /// </summary>
        public static Command Create(string fileName, IEnumerable<string> arguments, IEnumerable<KeyValuePair<string, string?>>? environment)
        {
            var variables = new Dictionary<string, string?>(StringComparer.Ordinal);
            if (environment != null)
            {
                foreach (var pair in environment)
                {
                    variables[pair.Key] = pair.Value;
                }
            }

            return Cli.Wrap(fileName)
                .WithArguments(arguments)
                .WithEnvironmentVariables(variables)
                .WithValidation(CommandResultValidation.None);
        }

        /// <summary>Starts <paramref name="command"/>; the task ends when the child has exited and its pipes are drained.</summary>
        /// <exception cref="ProcessStartException">The executable could not be started.</exception>
        public static Task<CommandResult> Execute(Command command, CancellationToken cancellationToken)
        {
            try
            {
                // CliWrap starts the child before it returns, so a start failure is thrown here, not from the task.
                return command.ExecuteAsync(cancellationToken);
            }
            catch (Win32Exception ex)
            {
                // CliWrap wraps the OS error in a generic message; ours (and the diagnostics quoting it) name the OS error.
                throw new ProcessStartException(command.TargetFilePath, ex.InnerException as Win32Exception ?? ex);
            }
        }
    }
}
