using System.Text.RegularExpressions;
using EcrCache.Http;
using EcrCache.Processes;

namespace EcrCache.Docker
{
    /// <summary>What a failed docker command's stderr says about retrying it.</summary>
    internal enum DockerFailureKind
    {
        /// <summary>Retrying cannot help (denied, unknown repository, bad reference, disk full...).</summary>
        Permanent,

        /// <summary>A registry or network hiccup (5xx, 429, reset, timeout, EOF): worth another attempt.</summary>
        Transient,

        /// <summary>The CLI could not talk to the daemon at all.</summary>
        DaemonUnreachable,
    }

    /// <summary>One docker push/pull attempt: its result, and (when it failed) what its stderr says and its error lines.</summary>
    /// <param name="Kind">Null when the command succeeded.</param>
    internal sealed record DockerAttempt(ProcessResult Result, DockerFailureKind? Kind, string Reason, IReadOnlyList<string> ErrorLines);

    /// <summary>
    /// Classifies docker push/pull failures from stderr and builds the retries between attempts. Conservative:
    /// only messages known to mean a transient registry or network problem are retried; unknown failures are
    /// permanent, so a real error is reported at once instead of after minutes of retries.
    /// </summary>
    internal static class DockerRetry
    {
        private static readonly Regex DaemonUnreachablePattern = new Regex(
            @"Cannot connect to the Docker daemon|Is the docker daemon running|error during connect|dial unix [^:]+: connect: (no such file or directory|connection refused|permission denied)",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

        private static readonly Regex PermanentPattern = new Regex(
            @"denied|unauthorized|authentication required|no basic auth credentials|manifest unknown|name unknown|not found|does not exist|invalid reference format|repository name must|no space left on device|x509|certificate|server gave HTTP response to HTTPS client",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

        private static readonly Regex TransientPattern = new Regex(
            @"connection reset|broken pipe|i/o timeout|TLS handshake timeout|timeout exceeded|deadline exceeded|unexpected EOF|\bEOF\b|connection refused|no route to host|network is unreachable|temporary failure|too ?many ?requests|toomanyrequests|^unavailable:|\bunavailable: |\b429\b|\b50[0234]\b|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out|received unexpected HTTP status: 5\d\d|request canceled while waiting for connection|http2: server sent GOAWAY|use of closed network connection|blob upload unknown|unknown blob",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Multiline);

        /// <summary>Permanent wins over transient ("denied" after a retried 503 is still denied).</summary>
        public static DockerFailureKind Classify(string standardError)
        {
            var text = standardError ?? string.Empty;
            if (DaemonUnreachablePattern.IsMatch(text))
            {
                return DockerFailureKind.DaemonUnreachable;
            }

            if (PermanentPattern.IsMatch(text))
            {
                return DockerFailureKind.Permanent;
            }

            return TransientPattern.IsMatch(text) ? DockerFailureKind.Transient : DockerFailureKind.Permanent;
        }

        /// <summary>
        /// The attempts of one push or pull: 1 + <paramref name="retries"/>, a transient failure retried after a wait
        /// between 50% and 100% of min(30 s, <paramref name="baseDelay"/> x 2^(attempt-1)); no deadline (a push takes
        /// as long as its layers do).
        /// </summary>
        public static RetryPipeline<DockerAttempt> Pipeline(int retries, TimeSpan baseDelay) =>
            Resilience.Pipeline<DockerAttempt>(
                new RetryShape { MaxAttempts = retries + 1, BaseDelay = baseDelay, MaxDelay = TimeSpan.FromSeconds(30), JitterFloor = 0.5 },
                (outcome, _) => outcome.Result is { Kind: DockerFailureKind.Transient } failed ? new Transient(failed.Reason) : null);

        /// <summary>The lines of stderr worth showing as the reason (error lines first, else the last line).</summary>
        public static string Reason(string standardError)
        {
            var lines = new List<string>();
            foreach (var raw in (standardError ?? string.Empty).Split('\n'))
            {
                var line = raw.Trim();
                if (line.Length > 0)
                {
                    lines.Add(line);
                }
            }

            foreach (var line in lines)
            {
                if (DockerCli.IsErrorLine(line) || line.StartsWith("Error", StringComparison.OrdinalIgnoreCase))
                {
                    return line;
                }
            }

            return lines.Count == 0 ? "no error output" : lines[lines.Count - 1];
        }
    }
}
