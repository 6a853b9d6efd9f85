using System.Diagnostics;
using System.Text;

namespace EcrCache.IntegrationTests.Infrastructure;

/// <summary>The outcome of a finished child process: exit code and interleaved stdout+stderr.</summary>
public sealed class CommandResult
{
    public CommandResult(string commandLine, int exitCode, string output, TimeSpan elapsed, bool timedOut)
    {
        CommandLine = commandLine;
        ExitCode = exitCode;
        Output = output;
        Elapsed = elapsed;
        TimedOut = timedOut;
    }

    public string CommandLine { get; }

    public int ExitCode { get; }

    public string Output { get; }

    public TimeSpan Elapsed { get; }

    public bool TimedOut { get; }

    /// <summary>Command, exit code and the last lines of output, for assertion messages.</summary>
    public string Describe(int lastLines = 80)
    {
        var lines = Output.Split('\n');
        var tail = string.Join("\n", lines.Skip(Math.Max(0, lines.Length - lastLines)));
        // Error lines first: CI logs keep only the start of a long assertion message.
        var errors = lines.Where(line => line.Contains(" error ", StringComparison.Ordinal) || line.Contains("ERROR", StringComparison.Ordinal))
            .Distinct().Take(15).ToList();
        var errorPart = errors.Count == 0 ? "" : "\n--- error lines:\n" + string.Join("\n", errors);
        return $"\n--- command: {CommandLine}\n--- exit code: {ExitCode}{(TimedOut ? " (TIMED OUT, killed)" : "")}, {Elapsed.TotalSeconds:0.0} s{errorPart}\n--- last {lastLines} lines of output:\n{tail}\n---";
    }
}

/// <summary>
/// A child process with a controlled environment whose stdout and stderr are captured (interleaved, in arrival
/// order) while it runs, so a test can wait for a line, signal it, or kill its whole process tree on a timeout.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly object _gate = new();
    private readonly TaskCompletionSource<bool> _stdoutDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<bool> _stderrDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private ChildProcess(Process process, string commandLine)
    {
        _process = process;
        CommandLine = commandLine;
    }

    public string CommandLine { get; }

    public int Id => _process.Id;

    /// <summary>
    /// Fails when the child ignores SIGINT, so a Ctrl+C test says why it cannot work instead of timing out: a test
    /// run started as a background job of a shell without job control (a script's 'cmd &amp;') inherits SIGINT
    /// ignored, and .NET keeps an inherited ignore.
    /// </summary>
    public void AssertSigintNotIgnored()
    {
        foreach (var line in File.ReadAllLines("/proc/" + Id + "/status"))
        {
            if (line.StartsWith("SigIgn:", StringComparison.Ordinal)
                && (ulong.Parse(line.Substring(7).Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) & 0x2UL) != 0)
            {
                Assert.Fail("SIGINT is ignored by this test run (inherited from a shell that started it as a background job without job control), so Ctrl+C cannot be tested; run the suite in the foreground, or from a shell with 'set -m'.");
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public TimeSpan Elapsed => _clock.Elapsed;

    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="fileName"/> with exactly <paramref name="environment"/> as its environment (nothing is
    /// inherited implicitly) and stdin closed.
    /// </summary>
    public static ChildProcess Start(string fileName, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string> environment)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        var args = arguments.ToList();
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Clear();
        foreach (var pair in environment)
        {
            psi.Environment[pair.Key] = pair.Value;
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var child = new ChildProcess(process, fileName + " " + string.Join(" ", args.Select(Quote)));
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data, child._stdoutDone);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data, child._stderrDone);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        return child;
    }

    /// <summary>Runs to completion (or kills the tree after <paramref name="timeout"/>).</summary>
    public static CommandResult Run(string fileName, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        using var child = Start(fileName, arguments, workingDirectory, environment);
        return child.WaitForExit(timeout);
    }

    /// <summary>Waits until the output contains <paramref name="text"/>; false on timeout or if the process exited first.</summary>
    public bool WaitForOutput(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Output.Contains(text, StringComparison.Ordinal))
            {
                return true;
            }

            if (_process.HasExited)
            {
                // Give the reader threads a moment to deliver the last lines.
                Task.WaitAll(new Task[] { _stdoutDone.Task, _stderrDone.Task }, TimeSpan.FromSeconds(5));
                return Output.Contains(text, StringComparison.Ordinal);
            }

            Thread.Sleep(100);
        }

        return false;
    }

    /// <summary>Waits for the exit; on timeout kills the whole process tree and reports TimedOut.</summary>
    public CommandResult WaitForExit(TimeSpan timeout)
    {
        var timedOut = false;
        if (!_process.WaitForExit(timeout))
        {
            timedOut = true;
            KillTree();
            _process.WaitForExit(TimeSpan.FromSeconds(30));
        }

        // Do not use WaitForExit() without a timeout: a grandchild that inherited the pipes could keep it waiting.
        Task.WaitAll(new Task[] { _stdoutDone.Task, _stderrDone.Task }, TimeSpan.FromSeconds(30));
        var exitCode = _process.HasExited ? _process.ExitCode : -1;
        return new CommandResult(CommandLine, exitCode, Output, _clock.Elapsed, timedOut);
    }

    public void KillTree()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }

    public void Dispose()
    {
        KillTree();
        _process.Dispose();
    }

    private void OnLine(string? line, TaskCompletionSource<bool> done)
    {
        if (line == null)
        {
            done.TrySetResult(true);
            return;
        }

        lock (_gate)
        {
            _output.Append(line).Append('\n');
        }
    }

    internal static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsLetterOrDigit(c) || "-_./:=,@+%".Contains(c)) ? arg : "'" + arg.Replace("'", "'\\''") + "'";
}
