using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using EcrCache.Processes;

namespace EcrCache.Docker
{
    /// <summary>What 'docker version' told us about the client and the daemon.</summary>
    internal sealed record DockerVersionInfo(string ClientVersion, string ServerVersion, string Os, string Architecture)
    {
        /// <summary>The daemon's platform, e.g. linux/amd64: the default platform of what it builds.</summary>
        public string Platform => Os + "/" + Architecture;

        public int ClientMajorVersion => ParseMajor(ClientVersion);

        internal static int ParseMajor(string version)
        {
            var match = Regex.Match(version, "^v?([0-9]+)");
            return match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        }
    }

    /// <summary>How builds run: with BuildKit (and how to turn it on), or with the legacy builder.</summary>
    internal sealed class BuilderMode
    {
        private BuilderMode(bool buildKit, string? environmentValue, string description)
        {
            UsesBuildKit = buildKit;
            DockerBuildKitVariable = environmentValue;
            Description = description;
        }

        public bool UsesBuildKit { get; }

        /// <summary>The DOCKER_BUILDKIT value to set for 'docker build', or null to leave it alone.</summary>
        public string? DockerBuildKitVariable { get; }

        public string Description { get; }

        public static BuilderMode BuildKitThroughBuildx { get; } = new BuilderMode(true, "1", "BuildKit (buildx)");

        public static BuilderMode BuildKitBuiltIn { get; } = new BuilderMode(true, "1", "BuildKit (DOCKER_BUILDKIT=1)");

        public static BuilderMode Legacy { get; } = new BuilderMode(false, "0", "legacy builder (no BuildKit in this client)");
    }

    /// <summary>A docker build to run. Build-arg values and secrets travel in the child's environment, never in argv.</summary>
    internal sealed class DockerBuildRequest
    {
        public string ContextDirectory { get; set; } = "";

        /// <summary>Path of the Dockerfile, or null when <see cref="DockerfileText"/> is piped on stdin.</summary>
        public string? DockerfilePath { get; set; }

        public string? DockerfileText { get; set; }

        public string? Target { get; set; }

        public IList<string> Tags { get; } = new List<string>();

        /// <summary>Build arguments; a null value is passed as '--build-arg NAME' with NAME absent from docker's environment.</summary>
        public IList<KeyValuePair<string, string?>> BuildArgs { get; } = new List<KeyValuePair<string, string?>>();

        /// <summary>Values of --secret (id=..,env=.. or id=..,src=..); these name where a secret is, never the secret.</summary>
        public IList<string> SecretSpecs { get; } = new List<string>();

        /// <summary>Environment variables the secrets are read from (env=...), set only for the docker child.</summary>
        public IDictionary<string, string> SecretEnvironment { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

        public IList<string> AdditionalArguments { get; } = new List<string>();

        public string? Platform { get; set; }

        /// <summary>Run 'docker buildx build' instead of 'docker build' (multi-platform builds).</summary>
        public bool UseBuildx { get; set; }
    }

    /// <summary>The docker CLI driver. Every call is one child process whose output streams into the log.</summary>
    internal sealed class DockerCli
    {
        private readonly IProcessRunner _runner;
        private readonly IBuildLog _log;

        public DockerCli(string executable, IProcessRunner runner, IBuildLog log)
        {
            Executable = string.IsNullOrWhiteSpace(executable) ? "docker" : executable;
            _runner = runner;
            _log = log;
        }

        public string Executable { get; }

        /// <summary>How many times a transient docker push/pull failure is retried (EcrCacheDockerRetries, default 3).</summary>
        public int Retries { get; set; } = 3;

        /// <summary>The base of the backoff between docker push/pull attempts (2 s; tests lower it).</summary>
        public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(2);

        /// <summary>The build's environment, to name the daemon in errors (DOCKER_HOST, DOCKER_CONTEXT).</summary>
        public Func<string, string?> DaemonEnvironment { get; set; } = System.Environment.GetEnvironmentVariable;

        /// <summary>Extra variables for every docker child (e.g. a private DOCKER_CONFIG).</summary>
        public IDictionary<string, string?> Environment { get; } = new Dictionary<string, string?>(StringComparer.Ordinal);

        public async Task<DockerVersionInfo> GetVersionAsync(CancellationToken cancellationToken)
        {
            var result = await RunAsync(new[] { "version", "--format", "{{json .}}" }, cancellationToken).ConfigureAwait(false);
            var json = result.StandardOutput.Trim();
            string clientVersion = "", serverVersion = "", os = "", arch = "";
            if (json.StartsWith("{", StringComparison.Ordinal))
            {
                try
                {
                    using var doc = JsonDocument.Parse(json);
                    if (doc.RootElement.TryGetProperty("Client", out var client) && client.ValueKind == JsonValueKind.Object)
                    {
                        clientVersion = GetString(client, "Version");
                    }

                    if (doc.RootElement.TryGetProperty("Server", out var server) && server.ValueKind == JsonValueKind.Object)
                    {
                        serverVersion = GetString(server, "Version");
                        os = GetString(server, "Os");
                        arch = GetString(server, "Arch");
                    }
                }
                catch (JsonException)
                {
                    // Fall through to the daemon check below.
                }
            }

            if (result.ExitCode != 0 || serverVersion.Length == 0)
            {
                var reason = FirstLine(result.StandardError);
                throw new EcrCacheException(DiagnosticIds.DaemonNotRunning, Executable, (reason.Length == 0 ? "docker version exit code " + result.ExitCode : reason) + "; daemon: " + DescribeDaemon());
            }

            return new DockerVersionInfo(clientVersion, serverVersion, os, arch);
        }

        /// <summary>
        /// Chooses the builder. Docker 23+ clients build with BuildKit only through the buildx plugin; older clients
        /// have BuildKit built in behind DOCKER_BUILDKIT=1. Fails with ECRC1203 when BuildKit is needed but absent.
        /// </summary>
        public async Task<BuilderMode> SelectBuilderAsync(DockerVersionInfo version, string? buildKitReason, CancellationToken cancellationToken)
        {
            if (version.ClientMajorVersion > 0 && version.ClientMajorVersion < 23)
            {
                return BuilderMode.BuildKitBuiltIn;
            }

            var buildx = await RunAsync(new[] { "buildx", "version" }, cancellationToken).ConfigureAwait(false);
            if (buildx.ExitCode == 0)
            {
                return BuilderMode.BuildKitThroughBuildx;
            }

            if (buildKitReason != null)
            {
                throw new EcrCacheException(DiagnosticIds.BuildKitUnavailable, buildKitReason, Executable, version.ClientVersion);
            }

            _log.Detail("The docker client " + version.ClientVersion + " has no buildx plugin; building with the legacy builder.");
            return BuilderMode.Legacy;
        }

        public async Task<bool> ImageExistsAsync(string reference, CancellationToken cancellationToken)
        {
            var result = await RunAsync(new[] { "image", "inspect", "--format", "{{.Id}}", reference }, cancellationToken).ConfigureAwait(false);
            return result.ExitCode == 0;
        }

        /// <summary>The os/arch of a local image, or null when the daemon does not have it (or is not reachable).</summary>
        public async Task<string?> GetImagePlatformAsync(string reference, CancellationToken cancellationToken)
        {
            var result = await RunAsync(new[] { "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", reference }, cancellationToken).ConfigureAwait(false);
            return result.ExitCode == 0 ? result.StandardOutput.Trim() : null;
        }

        public async Task BuildAsync(DockerBuildRequest request, BuilderMode mode, CancellationToken cancellationToken)
        {
            var args = request.UseBuildx ? new List<string> { "buildx", "build" } : new List<string> { "build" };
            if (mode.UsesBuildKit)
            {
                args.Add("--progress=plain");
            }

            args.Add("--file");
            args.Add(request.DockerfilePath ?? "-");
            foreach (var tag in request.Tags)
            {
                args.Add("--tag");
                args.Add(tag);
            }

            if (!string.IsNullOrEmpty(request.Target))
            {
                args.Add("--target");
                args.Add(request.Target!);
            }

            if (!string.IsNullOrEmpty(request.Platform))
            {
                args.Add("--platform");
                args.Add(request.Platform!);
            }

            var spec = NewSpec(args);
            foreach (var pair in request.BuildArgs)
            {
                if (pair.Value == null && IsReservedForDockerCli(pair.Key))
                {
                    // Unset, but the CLI may need this variable itself (or DockerCli sets it, e.g. DOCKER_CONFIG), so
                    // it cannot be removed from docker's environment. Leaving the argument out is what docker does
                    // with '--build-arg NAME' when NAME is unset: the Dockerfile's ARG default applies.
                    continue;
                }

                args.Add("--build-arg");
                if (pair.Value == null)
                {
                    // Unset: '--build-arg NAME' with NAME removed from the child's environment (it may be inherited),
                    // so docker keeps the Dockerfile's ARG default, as the reference plugin's bare name did.
                    args.Add(pair.Key);
                    spec.Environment[pair.Key] = null;
                }
                else if (IsReservedForDockerCli(pair.Key))
                {
                    // The docker CLI itself reads this variable (PATH, HOME, DOCKER_HOST, ...): setting it in the
                    // child's environment would change how docker runs, so this value goes in argv instead.
                    args.Add(pair.Key + "=" + pair.Value);
                }
                else
                {
                    // "--build-arg NAME" takes the value from the child's environment: values stay out of argv.
                    args.Add(pair.Key);
                    spec.Environment[pair.Key] = pair.Value;
                }
            }

            foreach (var secret in request.SecretSpecs)
            {
                args.Add("--secret");
                args.Add(secret);
            }

            foreach (var pair in request.SecretEnvironment)
            {
                spec.Environment[pair.Key] = pair.Value;
            }

            foreach (var extra in request.AdditionalArguments)
            {
                args.Add(extra);
            }

            args.Add(request.ContextDirectory);
            spec = CopySpec(spec, args);
            if (mode.DockerBuildKitVariable != null)
            {
                spec.Environment["DOCKER_BUILDKIT"] = mode.DockerBuildKitVariable;
            }

            spec.StandardInput = request.DockerfilePath == null ? request.DockerfileText ?? "" : null;
            spec.CaptureOutput = false;

            // Build steps print what they like ("ERROR: ..." from a tool that then recovers): only the CLI's own
            // stderr lines that BuildKit or the CLI mark as errors are MSBuild errors. The legacy builder writes step
            // output to stdout and BuildKit prefixes step output with "#N <time>", so neither is misclassified.
            using var output = new BuildOutput(_log, Progress, mode.UsesBuildKit);
            spec.OnStandardOutput = output.OnStandardOutput;
            spec.OnStandardError = output.OnStandardError;
            _log.Info("Building with " + mode.Description + ": " + spec.DisplayText);
            var group = OpenLogGroup("building " + (request.Tags.Count > 0 ? request.Tags[0] : request.ContextDirectory));
            var result = await ExecuteAsync(spec, cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                var failure = output.Fail(request, result.ExitCode);
                ExpandLogGroup(group);
                throw failure;
            }
        }

        /// <summary>EcrCacheProgress: what of docker's output shows at the default verbosity.</summary>
        public ProgressMode Progress { get; set; }

        /// <summary>EcrCacheBuildkiteLogGroups: in a Buildkite job (BUILDKITE=true), docker's output goes in a collapsed group.</summary>
        public bool BuildkiteLogGroups { get; set; } = true;

        /// <summary>
        /// Writes a Buildkite log-group marker. Buildkite recognises markers only at the start of a line, and MSBuild's
        /// console logger indents every message, so the marker goes straight to the build's standard output. A task
        /// in an MSBuild worker node (/nodemode:, e.g. a project built in parallel with others) has no such output:
        /// there the marker is a high-importance message, indented, which Buildkite shows as a plain line.
        /// </summary>
        public Action<string>? WriteMarker { get; set; }

        private static readonly bool InWorkerNode = System.Environment.GetCommandLineArgs()
            .Any(a => a.TrimStart('-', '/').StartsWith("nodemode:", StringComparison.OrdinalIgnoreCase));

        private void Marker(string line)
        {
            if (WriteMarker != null)
            {
                WriteMarker(line);
            }
            else if (InWorkerNode)
            {
                _log.Important(line);
            }
            else
            {
                Console.Out.WriteLine(line);
                Console.Out.Flush();
            }
        }

        /// <summary>Opens a collapsed Buildkite log group for docker's output; false outside a job or when turned off.</summary>
        private bool OpenLogGroup(string what)
        {
            if (!BuildkiteLogGroups || Progress == ProgressMode.Quiet || DaemonEnvironment("BUILDKITE") != "true")
            {
                return false;
            }

            _log.Detail("Buildkite log group: " + what);
            Marker("--- :docker: EcrCache: " + what);
            return true;
        }

        /// <summary>A failure: expand the group that holds its output, as Buildkite's own plugins do.</summary>
        private void ExpandLogGroup(bool opened)
        {
            if (opened)
            {
                Marker("^^^ +++");
            }
        }

        public async Task TagAsync(string source, string target, CancellationToken cancellationToken)
        {
            var result = await RunAsync(new[] { "tag", source, target }, cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                throw new EcrCacheException(DiagnosticIds.DockerTagFailed, source, target, result.ExitCode, FirstLine(result.StandardError));
            }
        }

        public Task PushAsync(string reference, CancellationToken cancellationToken) =>
            RetryingAsync("push", reference, DiagnosticIds.DockerPushFailed, cancellationToken);

        public Task PullAsync(string reference, CancellationToken cancellationToken) =>
            RetryingAsync("pull", reference, DiagnosticIds.DockerPullFailed, cancellationToken);

        /// <summary>What the docker CLI talks to, for messages: DOCKER_HOST, DOCKER_CONTEXT or the default.</summary>
        public string DescribeDaemon()
        {
            var host = DaemonEnvironment("DOCKER_HOST");
            if (!string.IsNullOrEmpty(host))
            {
                return "DOCKER_HOST=" + host;
            }

            var context = DaemonEnvironment("DOCKER_CONTEXT");
            return !string.IsNullOrEmpty(context)
                ? "DOCKER_CONTEXT=" + context
                : "the current docker context (unix:///var/run/docker.sock unless 'docker context use' chose another)";
        }

        /// <summary>docker push/pull in its Buildkite log group, which a failure expands.</summary>
        private async Task RetryingAsync(string verb, string reference, string failureId, CancellationToken cancellationToken)
        {
            var group = OpenLogGroup((verb == "push" ? "pushing " : "pulling ") + reference);
            try
            {
                await RunWithRetriesAsync(verb, reference, failureId, cancellationToken).ConfigureAwait(false);
            }
            catch (EcrCacheException)
            {
                ExpandLogGroup(group);
                throw;
            }
        }

        /// <summary>
        /// docker push/pull with retries: a failure whose stderr is transient (5xx, 429, reset, timeout, EOF) is tried
        /// again up to <see cref="Retries"/> times with jittered exponential backoff. Error lines of attempts that will
        /// be retried are logged as messages, not MSBuild errors, so a recovered push leaves a green build.
        /// </summary>
        private async Task RunWithRetriesAsync(string verb, string reference, string failureId, CancellationToken cancellationToken)
        {
            var attempts = 0;
            var last = await DockerRetry.Pipeline(Retries, RetryBaseDelay).ExecuteAsync(
                async token =>
                {
                    attempts++;
                    var spec = NewSpec(new[] { verb, reference });
                    var errorLines = new List<string>();
                    using var progress = Progress == ProgressMode.Steps ? new TransferProgress((verb == "push" ? "pushing " : "pulling ") + reference, _log.Important) : null;
                    spec.OnStandardOutput = line =>
                    {
                        progress?.OnLine(line);
                        LogToolLine(line, canBeError: false);
                    };
                    spec.OnStandardError = line =>
                    {
                        if (line.Length == 0)
                        {
                            return;
                        }

                        if (IsErrorLine(line))
                        {
                            lock (errorLines)
                            {
                                errorLines.Add(line);
                            }
                        }

                        LogOutputLine(line);
                    };
                    _log.Info(attempts == 1 ? spec.DisplayText : spec.DisplayText + " (attempt " + attempts.ToString(CultureInfo.InvariantCulture) + " of " + (Retries + 1).ToString(CultureInfo.InvariantCulture) + ")");
                    var result = await ExecuteAsync(spec, token).ConfigureAwait(false);
                    if (result.ExitCode == 0)
                    {
                        return new DockerAttempt(result, null, string.Empty, errorLines);
                    }

                    var kind = DockerRetry.Classify(result.StandardError + "\n" + result.StandardOutput);
                    var reason = DockerRetry.Reason(result.StandardError);
                    if (kind == DockerFailureKind.DaemonUnreachable)
                    {
                        throw new EcrCacheException(DiagnosticIds.DaemonUnreachable, DescribeDaemon(), verb, reason);
                    }

                    return new DockerAttempt(result, kind, reason, errorLines);
                },
                retry => _log.Info("docker " + verb + " of " + reference + " failed with a transient error (" + retry.Reason + "); retrying in " + retry.Delay.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s."),
                cancellationToken).ConfigureAwait(false);
            if (last.Kind == null)
            {
                return;
            }

            // Only the attempt that is not retried reports its error lines as MSBuild errors.
            foreach (var line in last.ErrorLines)
            {
                _log.ToolError("docker", line);
            }

            if (last.Kind == DockerFailureKind.Transient)
            {
                throw new EcrCacheException(DiagnosticIds.DockerRetriesExhausted, verb, reference, attempts, last.Reason);
            }

            throw new EcrCacheException(failureId, reference, last.Result.ExitCode, last.Reason.Length == 0 ? "no message" : last.Reason);
        }

        /// <summary>Runs a docker command and captures its (small) output.</summary>
        public Task<ProcessResult> RunAsync(IEnumerable<string> arguments, CancellationToken cancellationToken) =>
            ExecuteAsync(NewSpec(arguments), cancellationToken);

        private async Task<ProcessResult> StreamAsync(IEnumerable<string> arguments, CancellationToken cancellationToken)
        {
            var spec = NewSpec(arguments);
            spec.OnStandardOutput = line => LogToolLine(line, canBeError: false);
            spec.OnStandardError = line => LogToolLine(line, canBeError: true);
            _log.Info(spec.DisplayText);
            return await ExecuteAsync(spec, cancellationToken).ConfigureAwait(false);
        }

        private async Task<ProcessResult> ExecuteAsync(ProcessSpec spec, CancellationToken cancellationToken)
        {
            try
            {
                return await _runner.RunAsync(spec, cancellationToken).ConfigureAwait(false);
            }
            catch (ProcessStartException ex)
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.DockerNotFound, Executable), ex);
            }
        }

        private ProcessSpec NewSpec(IEnumerable<string> arguments)
        {
            var spec = new ProcessSpec(Executable, arguments);
            foreach (var pair in Environment)
            {
                spec.Environment[pair.Key] = pair.Value;
            }

            return spec;
        }

        private static ProcessSpec CopySpec(ProcessSpec source, IEnumerable<string> arguments)
        {
            var spec = new ProcessSpec(source.FileName, arguments);
            foreach (var pair in source.Environment)
            {
                spec.Environment[pair.Key] = pair.Value;
            }

            return spec;
        }

        /// <summary>Environment variables the docker CLI reads itself; build args with these names go in argv.</summary>
        internal static bool IsReservedForDockerCli(string name) =>
            name == "PATH" || name == "HOME" || name == "USER" || name == "TMPDIR" || name == "SSH_AUTH_SOCK"
            || name.StartsWith("DOCKER_", StringComparison.Ordinal) || name.StartsWith("BUILDX_", StringComparison.Ordinal);

        private void LogToolLine(string line, bool canBeError)
        {
            if (line.Length == 0)
            {
                return;
            }

            if (canBeError && IsErrorLine(line))
            {
                _log.ToolError("docker", line);
            }
            else
            {
                LogOutputLine(line);
            }
        }

        /// <summary>A line of docker's output: normal importance, high with EcrCacheProgress=full.</summary>
        private void LogOutputLine(string line)
        {
            if (Progress == ProgressMode.Full)
            {
                _log.Important(line);
            }
            else
            {
                _log.Info(line);
            }
        }

        internal static bool IsErrorLine(string line) =>
            Regex.IsMatch(line, @"^(#\d+ )?(ERROR|[Ee]rror)(:|\[| response from daemon)") || line.StartsWith("failed to solve", StringComparison.Ordinal);

        private static string GetString(JsonElement element, string name) =>
            element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : "";

        internal static string FirstLine(string text)
        {
            var trimmed = text.Trim();
            var newline = trimmed.IndexOf('\n');
            return newline < 0 ? trimmed : trimmed.Substring(0, newline).Trim();
        }
    }
}
