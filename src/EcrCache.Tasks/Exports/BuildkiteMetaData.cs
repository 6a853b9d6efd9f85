using EcrCache.Options;
using EcrCache.Processes;

namespace EcrCache.Exports
{
    /// <summary>
    /// Sets Buildkite build meta-data with <c>buildkite-agent meta-data set KEY</c>, so that later steps (possibly on
    /// other agents) can read the image reference with <c>buildkite-agent meta-data get KEY</c>.
    /// </summary>
    /// <remarks>
    /// The value goes on standard input: when the value argument is omitted the agent reads all of stdin, unchanged
    /// (no newline is added or trimmed), and this has worked since agent 3.0. So the value never shows in a process
    /// listing or in our command-line logs. The agent itself rejects empty or whitespace-only values.
    /// </remarks>
    internal sealed class BuildkiteMetaData
    {
        public const string DefaultAgentPath = "buildkite-agent";

        private readonly IProcessRunner runner;

        public BuildkiteMetaData(IProcessRunner runner, string agentPath = DefaultAgentPath)
        {
            this.runner = runner ?? throw new ArgumentNullException(nameof(runner));
            if (string.IsNullOrEmpty(agentPath))
            {
                throw new ArgumentException("The buildkite-agent path is empty.", nameof(agentPath));
            }

            AgentPath = agentPath;
        }

        /// <summary>
        /// The agent executable: a bare name (default <c>buildkite-agent</c>) is looked up on PATH — the PATH of
        /// <see cref="Environment"/> when it sets one, else ours; a path is used as it is.
        /// </summary>
        public string AgentPath { get; }

        /// <summary>
        /// How long the agent may run. When Buildkite is unreachable it retries for about four minutes before it gives
        /// up, so without a bound a build would hang that long; on time-out the agent and its children are killed.
        /// </summary>
        public TimeSpan Timeout { get; set; } = ExportOptions.DefaultMetadataTimeout;

        /// <summary>Variables to set (value) or remove (null) in the agent's environment, on top of ours.</summary>
        public IDictionary<string, string?> Environment { get; } = new Dictionary<string, string?>(StringComparer.Ordinal);

        /// <summary>Runs <c>buildkite-agent meta-data set <paramref name="key"/></c> with the value on stdin.</summary>
        /// <exception cref="ArgumentException">The key or value is empty or only whitespace (the agent would reject it).</exception>
        /// <exception cref="EcrCacheException">
        /// <see cref="DiagnosticIds.MetaDataFailed"/>: the agent is missing or failed; <see cref="DiagnosticIds.MetaDataTimedOut"/>:
        /// it ran longer than <see cref="Timeout"/> and was killed.
        /// </exception>
        /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (the agent is killed).</exception>
        public async Task SetAsync(string key, string value, CancellationToken cancellationToken)
        {
            if (key == null)
            {
                throw new ArgumentNullException(nameof(key));
            }

            if (value == null)
            {
                throw new ArgumentNullException(nameof(value));
            }

            if (key.Trim().Length == 0)
            {
                throw new ArgumentException("The meta-data key is empty.", nameof(key));
            }

            if (value.Trim().Length == 0)
            {
                throw new ArgumentException("The meta-data value for '" + key + "' is empty; buildkite-agent rejects empty values.", nameof(value));
            }

            string? path;
            Environment.TryGetValue("PATH", out path);
            var fileName = ExecutableLocator.Resolve(AgentPath, Environment.ContainsKey("PATH") ? path : System.Environment.GetEnvironmentVariable("PATH"));

            // The documented form is "meta-data set KEY"; only a key that looks like an option gets "--" in front.
            var arguments = key.StartsWith("-", StringComparison.Ordinal)
                ? new[] { "meta-data", "set", "--", key }
                : new[] { "meta-data", "set", key };
            var spec = new ProcessSpec(fileName, arguments)
            {
                StandardInput = value,
                CaptureOutput = true,
            };
            foreach (var pair in Environment)
            {
                spec.Environment[pair.Key] = pair.Value;
            }

            ProcessResult result;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            try
            {
                // The runner kills the whole process tree when the token fires and returns only once the agent is gone.
                result = await runner.RunAsync(spec, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.MetaDataTimedOut, key, DescribeDuration(Timeout)), ex);
            }
            catch (ProcessStartException ex)
            {
                var detail = ExecutableLocator.IsBareName(AgentPath)
                    ? AgentPath + " was not found on PATH"
                    : "'" + AgentPath + "' could not be started: " + (ex.InnerException?.Message ?? ex.Message).TrimEnd('.', ' ');
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.MetaDataFailed, key, detail), ex);
            }

            if (result.ExitCode != 0)
            {
                throw new EcrCacheException(DiagnosticIds.MetaDataFailed, key, DescribeFailure(result));
            }
        }

        /// <summary>"30 s", "1 min", "1 min 30 s".</summary>
        internal static string DescribeDuration(TimeSpan duration)
        {
            var seconds = (long)Math.Round(duration.TotalSeconds);
            var minutes = seconds / 60;
            var rest = seconds % 60;
            var inv = System.Globalization.CultureInfo.InvariantCulture;
            if (minutes == 0)
            {
                return seconds.ToString(inv) + " s";
            }

            return rest == 0 ? minutes.ToString(inv) + " min" : minutes.ToString(inv) + " min " + rest.ToString(inv) + " s";
        }

        /// <summary>The agent's last stderr lines (its fatal error comes last, after its log lines), or the exit code.</summary>
        private static string DescribeFailure(ProcessResult result)
        {
            const int Max = 1000;
            var text = (result.StandardError ?? string.Empty).Trim();
            if (text.Length == 0)
            {
                text = (result.StandardOutput ?? string.Empty).Trim();
            }

            if (text.Length > Max)
            {
                text = "…" + text.Substring(text.Length - Max);
            }

            var exit = "exit code " + result.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return text.Length == 0 ? exit : exit + ": " + text;
        }
    }
}
