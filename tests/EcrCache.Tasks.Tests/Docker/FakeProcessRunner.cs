using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using EcrCache.Docker;
using EcrCache.Processes;

namespace EcrCache.Tasks.Tests.Docker
{
    /// <summary>One scripted answer of <see cref="FakeProcessRunner"/>: output lines are fed to the spec's callbacks.</summary>
    internal sealed class FakeResult
    {
        public FakeResult(int exitCode, string stdout = "", string stderr = "")
        {
            ExitCode = exitCode;
            StandardOutput = stdout;
            StandardError = stderr;
        }

        public int ExitCode { get; }

        public string StandardOutput { get; }

        public string StandardError { get; }

        /// <summary>Thrown instead of returning (e.g. a <see cref="ProcessStartException"/>).</summary>
        public Exception? Throw { get; set; }
    }

    /// <summary>
    /// Records every <see cref="ProcessSpec"/> and answers from a script keyed by the first arguments. This tests how
    /// argv and the child environment are built, not docker itself (the engine tests run the real docker).
    /// </summary>
    internal sealed class FakeProcessRunner : IProcessRunner
    {
        private readonly List<(string Prefix, FakeResult Result)> _script = new List<(string, FakeResult)>();
        private readonly object _gate = new object();
        private readonly List<ProcessSpec> _specs = new List<ProcessSpec>();

        public IReadOnlyList<ProcessSpec> Specs
        {
            get
            {
                lock (_gate)
                {
                    return _specs.ToList();
                }
            }
        }

        public ProcessSpec Single(string firstArgument) => Specs.Single(s => s.Arguments.Count > 0 && s.Arguments[0] == firstArgument);

        /// <summary>Answers commands whose arguments joined by spaces start with <paramref name="argumentPrefix"/>.</summary>
        public FakeProcessRunner On(string argumentPrefix, FakeResult result)
        {
            _script.Add((argumentPrefix, result));
            return this;
        }

        public FakeProcessRunner On(string argumentPrefix, int exitCode, string stdout = "", string stderr = "") =>
            On(argumentPrefix, new FakeResult(exitCode, stdout, stderr));

        public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (_gate)
            {
                _specs.Add(spec);
            }

            var joined = string.Join(" ", spec.Arguments);
            var match = _script.FirstOrDefault(s => joined.StartsWith(s.Prefix, StringComparison.Ordinal));
            if (match.Result == null)
            {
                throw new InvalidOperationException("FakeProcessRunner has no answer for: " + spec.DisplayText);
            }

            var result = match.Result;
            if (result.Throw != null)
            {
                throw result.Throw;
            }

            foreach (var line in Lines(result.StandardOutput))
            {
                spec.OnStandardOutput?.Invoke(line);
            }

            foreach (var line in Lines(result.StandardError))
            {
                spec.OnStandardError?.Invoke(line);
            }

            return Task.FromResult(new ProcessResult(
                result.ExitCode,
                spec.CaptureOutput ? result.StandardOutput : "",
                spec.CaptureOutput ? result.StandardError : ""));
        }

        private static IEnumerable<string> Lines(string text) =>
            text.Length == 0 ? Array.Empty<string>() : text.TrimEnd('\n').Split('\n');
    }
}
