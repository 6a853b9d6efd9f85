using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using EcrCache.Processes;

namespace EcrCache.Registries.Auth
{
    /// <summary>
    /// Credentials the way the docker CLI finds them: a <c>credHelpers</c> entry for the host, else an
    /// <c>auths</c> entry with credentials, else the <c>credsStore</c> helper, else anonymous.
    /// A helper is run as <c>docker-credential-&lt;name&gt; get</c> with the server address on stdin and answers
    /// <c>{"ServerURL":..,"Username":..,"Secret":..}</c>; user name <c>&lt;token&gt;</c> means the secret is an
    /// identity (refresh) token. "credentials not found" means anonymous; any other failure is ECRC1304.
    /// Results are cached per host for the lifetime of the provider. Nothing secret is ever logged.
    /// </summary>
    internal sealed class DockerConfigCredentialProvider : IRegistryCredentialProvider, ICredentialSourceDescription
    {
        /// <summary>What a helper prints as user name when the secret is an identity token.</summary>
        public const string IdentityTokenUsername = "<token>";

        private static readonly Regex HelperName = new Regex("^[A-Za-z0-9][A-Za-z0-9._-]*$", RegexOptions.CultureInvariant);

        private readonly IProcessRunner _runner;
        private readonly Func<string, string?> _environment;
        private readonly IBuildLog _log;
        private readonly Dictionary<string, RegistryCredential?> _cache = new Dictionary<string, RegistryCredential?>(StringComparer.Ordinal);

        /// <param name="config">The docker config to consult.</param>
        /// <param name="runner">Runs credential helpers.</param>
        /// <param name="environment">
        /// The environment helpers see: PATH is searched for <c>docker-credential-*</c> and passed to the helper.
        /// Null means this process's environment.
        /// </param>
        /// <param name="log">Where to say which source was used (never the credentials themselves).</param>
        public DockerConfigCredentialProvider(DockerConfig config, IProcessRunner runner, Func<string, string?>? environment = null, IBuildLog? log = null)
        {
            Config = config ?? throw new ArgumentNullException(nameof(config));
            _runner = runner ?? throw new ArgumentNullException(nameof(runner));
            _environment = environment ?? Environment.GetEnvironmentVariable;
            _log = log ?? NullBuildLog.Instance;
        }

        public DockerConfig Config { get; }

        /// <summary>How long a helper may run before it counts as failed (a helper may wait for a GUI prompt).</summary>
        public TimeSpan HelperTimeout { get; set; } = TimeSpan.FromMinutes(2);

        public string CredentialSource => Config.Path;

        /// <summary>A provider for the current user's docker config and this process's environment.</summary>
        public static DockerConfigCredentialProvider CreateDefault(IBuildLog? log = null, IProcessRunner? runner = null) =>
            new DockerConfigCredentialProvider(DockerConfig.LoadDefault(), runner ?? ProcessRunner.Instance, Environment.GetEnvironmentVariable, log);

        public async Task<RegistryCredential?> GetAsync(string host, CancellationToken cancellationToken)
        {
            if (host == null)
            {
                throw new ArgumentNullException(nameof(host));
            }

            var key = DockerConfig.NormalizeHost(host);
            lock (_cache)
            {
                if (_cache.TryGetValue(key, out var cached))
                {
                    return cached;
                }
            }

            var credential = await LookUpAsync(host, cancellationToken).ConfigureAwait(false);
            lock (_cache)
            {
                _cache[key] = credential;
            }

            return credential;
        }

        /// <summary>Runs <c>docker-credential-&lt;helper&gt; get</c> for <paramref name="host"/>.</summary>
        public async Task<RegistryCredential?> GetFromHelperAsync(string helper, string host, CancellationToken cancellationToken)
        {
            if (helper == null)
            {
                throw new ArgumentNullException(nameof(helper));
            }

            if (host == null)
            {
                throw new ArgumentNullException(nameof(host));
            }

            if (!HelperName.IsMatch(helper))
            {
                throw new EcrCacheException(DiagnosticIds.CredentialHelperFailed, helper, host, "the helper name is not a plain name");
            }

            var executable = "docker-credential-" + helper;
            var path = FindExecutable(executable, _environment);
            if (path == null)
            {
                throw new EcrCacheException(DiagnosticIds.CredentialHelperFailed, helper, host, "'" + executable + "' was not found on PATH");
            }

            var spec = new ProcessSpec(path, new[] { "get" })
            {
                // The server address goes on stdin, as the docker CLI does; the answer (stdout) holds the secret and is
                // never logged or echoed.
                StandardInput = DockerConfig.GetServerAddress(host),
                CaptureOutput = true,
            };
            var pathVariable = _environment("PATH");
            if (pathVariable != null)
            {
                spec.Environment["PATH"] = pathVariable;
            }

            ProcessResult result;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                if (HelperTimeout != Timeout.InfiniteTimeSpan)
                {
                    timeout.CancelAfter(HelperTimeout);
                }

                try
                {
                    result = await _runner.RunAsync(spec, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new EcrCacheException(
                        DiagnosticIds.CredentialHelperFailed,
                        helper,
                        host,
                        "it did not finish within " + HelperTimeout.TotalSeconds.ToString("0", CultureInfo.InvariantCulture) + " s");
                }
                catch (ProcessStartException ex)
                {
                    var inner = ex.InnerException?.Message ?? ex.Message;
                    throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.CredentialHelperFailed, helper, host, "'" + path + "' could not be started (" + inner + ")"), ex);
                }
            }

            if (result.ExitCode != 0)
            {
                var output = (result.StandardOutput + "\n" + result.StandardError).Trim();
                if (output.IndexOf("credentials not found", StringComparison.OrdinalIgnoreCase) >= 0)
                {
                    _log.Detail("docker-credential-" + helper + " has no credentials for '" + host + "'.");
                    return null;
                }

                throw new EcrCacheException(DiagnosticIds.CredentialHelperFailed, helper, host, "exit code " + result.ExitCode.ToString(CultureInfo.InvariantCulture) + ErrorText(output));
            }

            string? username;
            string? secret;
            try
            {
                using var document = JsonDocument.Parse(result.StandardOutput);
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new JsonException("not an object");
                }

                username = GetString(document.RootElement, "Username");
                secret = GetString(document.RootElement, "Secret");
            }
            catch (JsonException)
            {
                // Do not quote the output: it may hold the secret.
                throw new EcrCacheException(DiagnosticIds.CredentialHelperFailed, helper, host, "its output is not the expected JSON object {ServerURL, Username, Secret}");
            }

            if (string.IsNullOrEmpty(secret))
            {
                _log.Detail("docker-credential-" + helper + " returned no secret for '" + host + "'.");
                return null;
            }

            _log.Detail("Using credentials for '" + host + "' from docker-credential-" + helper + ".");
            return username == IdentityTokenUsername
                ? new RegistryCredential(null, null, identityToken: secret)
                : new RegistryCredential(username, secret);
        }

        /// <summary>
        /// The full path of <paramref name="name"/> on the PATH of <paramref name="environment"/> (with PATHEXT
        /// extensions on Windows), or null.
        /// </summary>
        public static string? FindExecutable(string name, Func<string, string?> environment)
        {
            var pathVariable = environment("PATH");
            if (string.IsNullOrEmpty(pathVariable))
            {
                return null;
            }

            var windows = Path.DirectorySeparatorChar == '\\';
            var extensions = new List<string> { string.Empty };
            if (windows)
            {
                var pathExt = environment("PATHEXT");
                extensions.Clear();
                foreach (var ext in (string.IsNullOrEmpty(pathExt) ? ".COM;.EXE;.BAT;.CMD" : pathExt!).Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries))
                {
                    extensions.Add(ext);
                }

                extensions.Add(string.Empty);
            }

            foreach (var rawDirectory in pathVariable!.Split(new[] { Path.PathSeparator }, StringSplitOptions.RemoveEmptyEntries))
            {
                var directory = rawDirectory.Trim().Trim('"');
                if (directory.Length == 0)
                {
                    continue;
                }

                foreach (var extension in extensions)
                {
                    string candidate;
                    try
                    {
                        candidate = Path.Combine(directory, name + extension);
                    }
                    catch (ArgumentException)
                    {
                        break;
                    }

                    if (File.Exists(candidate))
                    {
                        return candidate;
                    }
                }
            }

            return null;
        }

        public override string ToString() => "DockerConfigCredentialProvider(" + Config.Path + ")";

        private async Task<RegistryCredential?> LookUpAsync(string host, CancellationToken cancellationToken)
        {
            // A per-host helper is an explicit routing decision (e.g. ecr-login) and wins over a possibly stale
            // auths entry, as in the docker CLI.
            var hostHelper = Config.GetHostCredentialHelper(host);
            if (hostHelper != null)
            {
                return await GetFromHelperAsync(hostHelper, host, cancellationToken).ConfigureAwait(false);
            }

            var auth = Config.GetAuth(host);
            if (auth != null)
            {
                _log.Detail("Using credentials for '" + host + "' from 'auths' in " + Config.Path + ".");
                return auth;
            }

            if (Config.CredentialsStore != null)
            {
                return await GetFromHelperAsync(Config.CredentialsStore, host, cancellationToken).ConfigureAwait(false);
            }

            _log.Detail("No credentials for '" + host + "' in " + Config.Path + "; using anonymous access.");
            return null;
        }

        private static string? GetString(JsonElement element, string name)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase) && property.Value.ValueKind == JsonValueKind.String)
                {
                    return property.Value.GetString();
                }
            }

            return null;
        }

        private static string ErrorText(string output)
        {
            if (output.Length == 0)
            {
                return string.Empty;
            }

            var firstLine = output.Split('\n')[0].Trim();
            if (firstLine.Length > 300)
            {
                firstLine = firstLine.Substring(0, 300) + "...";
            }

            return " (" + firstLine + ")";
        }
    }
}
