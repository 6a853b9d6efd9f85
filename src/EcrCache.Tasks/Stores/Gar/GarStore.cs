using System.Text.Json;
using EcrCache.Core;
using EcrCache.Docker;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Registries.Auth;

namespace EcrCache.Stores.Gar
{
    /// <summary>
    /// Google Artifact Registry (EcrCacheProvider=gar, or gcr for gcr.io names). The image name needs no API call
    /// (host/project/repository/path, or host/project/path for gcr.io), so a local hit costs nothing here.
    /// <see cref="PrepareAsync"/> makes sure the repository exists (format DOCKER; created with the labels and the cleanup
    /// policy when missing; labels merged and the cleanup policy rewritten only when they differ), then logs docker in:
    /// not at all when the user's docker config routes the host to a credential helper (gcloud, gcr, ...), else as
    /// <c>oauth2accesstoken</c> with an ADC access token in a private DOCKER_CONFIG. Existence is one registry HEAD of the
    /// manifest (the registry's Bearer handshake with the same login).
    /// </summary>
    internal sealed class GarStore : CloudRegistryStore
    {
        /// <summary>The user name Google's registries take with an OAuth2 access token as the password.</summary>
        public const string AccessTokenUsername = "oauth2accesstoken";

        private readonly GarOptions _options;
        private readonly GarClient _client;
        private readonly IGoogleAccessTokenSource _tokens;
        private string? _loginToken;
        private string _userConfigPath = "";

        public GarStore(GarOptions options, GarClient client, IGoogleAccessTokenSource tokens, DockerCli docker, IProcessRunner runner, IBuildLog log, Func<string, string?> environment, bool registryInsecure = false)
            : base(
                (options ?? throw new ArgumentNullException(nameof(options))).Host,
                registryInsecure,
                options.RegistryRepository,
                "Artifact Registry " + options.RepositoryResourceName + " (" + options.Host + ")",
                docker ?? throw new ArgumentNullException(nameof(docker)),
                runner ?? throw new ArgumentNullException(nameof(runner)),
                log ?? throw new ArgumentNullException(nameof(log)),
                environment ?? throw new ArgumentNullException(nameof(environment)),
                // What gcloud auth configure-docker and docker-credential-gcr configure-docker set up.
                "gcloud",
                "gcr")
        {
            _options = options;
            _client = client ?? throw new ArgumentNullException(nameof(client));
            _tokens = tokens ?? throw new ArgumentNullException(nameof(tokens));
        }

        /// <summary>Where the private DOCKER_CONFIG folder is created (default: the temp folder).</summary>
        public string? PrivateConfigParent { get; set; }

        /// <summary>The repository as the API last described it (after <see cref="CloudRegistryStore.PrepareAsync"/>).</summary>
        public GarRepository? Repository { get; private set; }

        /// <summary>The store for the engine, with Application Default Credentials.</summary>
        public static GarStore Create(CacheOptions options, DockerCli docker, IProcessRunner runner, IBuildLog log)
        {
            var gar = options.Gar ?? throw new InvalidOperationException("The Artifact Registry options were not parsed.");
            var tokens = new ApplicationDefaultCredentialSource(options.Environment);
            var client = new GarClient(gar.Endpoint, gar.Project, tokens, log);
            return new GarStore(gar, client, tokens, docker, runner, log, options.Environment, options.RegistryInsecure);
        }

        protected override async Task PrepareRepositoryAsync(CancellationToken cancellationToken)
        {
            Log.Detail("Artifact Registry repository " + _options.RepositoryResourceName + ", API " + _client.Endpoint + " (" + _options.EndpointSource + "), image " + Image + ".");
            var repository = await EnsureRepositoryAsync(cancellationToken).ConfigureAwait(false);
            repository = await EnsureLabelsAsync(repository, cancellationToken).ConfigureAwait(false);
            Repository = await EnsureCleanupPolicyAsync(repository, cancellationToken).ConfigureAwait(false);
        }

        protected override async Task<IRegistryCredentialProvider> LogInWithTokenAsync(DockerConfig config, CancellationToken cancellationToken)
        {
            var token = await _tokens.GetAccessTokenAsync(cancellationToken).ConfigureAwait(false);
            _userConfigPath = config.Path;
            var written = WriteLogin(token);
            Log.Detail("Logged docker in to " + RegistryHost + " as " + AccessTokenUsername + " with an access token from " + _tokens.Description + ", in the private DOCKER_CONFIG " + written.Directory + " (removed at the end of this build).");
            return new StaticCredentialProvider(RegistryHost, RegistryCredential.Basic(AccessTokenUsername, token), "an access token from " + _tokens.Description);
        }

        /// <summary>
        /// Access tokens live an hour and a build can take longer: when docker was logged in privately and the token
        /// source now hands out another token, writes a new private config.
        /// </summary>
        protected override async Task RefreshLoginAsync(CancellationToken cancellationToken)
        {
            if (Session.PrivateConfig == null)
            {
                return;
            }

            var token = await _tokens.GetAccessTokenAsync(cancellationToken).ConfigureAwait(false);
            if (string.Equals(token, _loginToken, StringComparison.Ordinal))
            {
                return;
            }

            var written = WriteLogin(token);
            Log.Detail("The access token was refreshed; logged docker in again, in the private DOCKER_CONFIG " + written.Directory + " (removed at the end of this build).");
        }

        protected override void DisposeClient() => _client.Dispose();

        /// <summary>Labels to write: the repository's own plus ours (ours win), or null when nothing changes.</summary>
        internal static Dictionary<string, string>? MergedLabels(IReadOnlyDictionary<string, string> current, IEnumerable<KeyValuePair<string, string>> wanted)
        {
            var merged = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in current)
            {
                merged[pair.Key] = pair.Value;
            }

            var changed = false;
            foreach (var pair in wanted)
            {
                if (!merged.TryGetValue(pair.Key, out var value) || !string.Equals(value, pair.Value, StringComparison.Ordinal))
                {
                    merged[pair.Key] = pair.Value;
                    changed = true;
                }
            }

            return changed ? merged : null;
        }

        private async Task<GarRepository> EnsureRepositoryAsync(CancellationToken cancellationToken)
        {
            var name = _options.RepositoryResourceName;
            var repository = await _client.GetRepositoryAsync(name, cancellationToken).ConfigureAwait(false);
            if (repository == null)
            {
                repository = await _client.CreateRepositoryAsync(_options.ParentResourceName, _options.RepositoryId, _options.Labels.ToList(), _options.ImagePath, _options.MaxAgeDays, cancellationToken, _options.KeepCount).ConfigureAwait(false);
                if (repository != null)
                {
                    Log.Info("Created Artifact Registry repository " + name + " (DOCKER)" + (_options.Labels.Count > 0 ? " with labels " + string.Join(", ", _options.Labels.Select(l => l.Key)) : string.Empty) + ".");
                }
                else
                {
                    // Another build created it between our two calls.
                    repository = await _client.GetRepositoryAsync(name, cancellationToken).ConfigureAwait(false)
                        ?? throw new EcrCacheException(DiagnosticIds.GarRequestFailed, "GetRepository", name, 404, "NOT_FOUND", "the repository was reported as existing but cannot be read");
                }
            }

            if (!string.Equals(repository.Format, "DOCKER", StringComparison.OrdinalIgnoreCase))
            {
                throw new EcrCacheException(DiagnosticIds.GarRepositoryNotDocker, name, string.IsNullOrEmpty(repository.Format) ? "no format" : repository.Format);
            }

            return repository;
        }

        private async Task<GarRepository> EnsureLabelsAsync(GarRepository repository, CancellationToken cancellationToken)
        {
            var merged = MergedLabels(repository.Labels, _options.Labels);
            if (merged == null)
            {
                return repository;
            }

            var updated = await _client.UpdateRepositoryAsync(repository.Name, "labels", w =>
            {
                w.WritePropertyName("labels");
                w.WriteStartObject();
                foreach (var pair in merged.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    w.WriteString(pair.Key, pair.Value);
                }

                w.WriteEndObject();
            }, cancellationToken).ConfigureAwait(false);
            Log.Detail("Labelled Artifact Registry repository " + repository.Name + " with " + string.Join(", ", _options.Labels.Select(l => l.Key)) + ".");
            return updated;
        }

        private async Task<GarRepository> EnsureCleanupPolicyAsync(GarRepository repository, CancellationToken cancellationToken)
        {
            var days = _options.MaxAgeDays;
            var path = _options.ImagePath;
            if (days <= 0)
            {
                Log.Detail("EcrCacheMaxAgeDays=0: the cleanup policies of " + repository.Name + " are left alone"
                    + (_options.KeepCount > 0 ? " (a keep policy only protects versions from a delete policy, so EcrCacheKeepCount needs EcrCacheMaxAgeDays here)" : "") + ".");
                return repository;
            }

            var id = GarCleanupPolicy.PolicyIdFor(path);
            var keepId = GarCleanupPolicy.KeepPolicyIdFor(path);
            var keep = _options.KeepCount;
            var keepUpToDate = keep > 0
                ? repository.CleanupPolicies.TryGetValue(keepId, out var currentKeep) && currentKeep.IsKeep(path, keep)
                : !repository.CleanupPolicies.ContainsKey(keepId);
            if (repository.CleanupPolicies.TryGetValue(id, out var current) && current.IsExpiry(path, days) && keepUpToDate && !repository.CleanupPolicyDryRun)
            {
                Log.Detail("The cleanup policy " + id + " of " + repository.Name + " already deletes " + path + " versions older than " + days + " days"
                    + (keep > 0 ? ", and " + keepId + " keeps the newest " + keep : "") + ".");
                return repository;
            }

            try
            {
                var updated = await _client.UpdateRepositoryAsync(repository.Name, "cleanupPolicies,cleanupPolicyDryRun", w =>
                {
                    w.WritePropertyName("cleanupPolicies");
                    w.WriteStartObject();
                    foreach (var other in repository.CleanupPolicies.Values.Where(p => p.Id != id && p.Id != keepId).OrderBy(p => p.Id, StringComparer.Ordinal))
                    {
                        w.WritePropertyName(other.Id);
                        using var raw = JsonDocument.Parse(other.RawJson);
                        raw.RootElement.WriteTo(w);
                    }

                    w.WritePropertyName(id);
                    GarCleanupPolicy.WriteExpiry(w, path, days);
                    if (keep > 0)
                    {
                        // KEEP wins over DELETE in Artifact Registry: the newest N versions survive the expiry.
                        w.WritePropertyName(keepId);
                        GarCleanupPolicy.WriteKeep(w, path, keep);
                    }

                    w.WriteEndObject();
                    w.WriteBoolean("cleanupPolicyDryRun", false);
                }, cancellationToken).ConfigureAwait(false);
                Log.Info("Set the cleanup policy " + id + " of Artifact Registry repository " + repository.Name + ": versions of " + path + " are deleted " + days + " days after they were created"
                    + (keep > 0 ? " (the keep policy " + keepId + " keeps the newest " + keep + ")" : "") + ".");
                return updated;
            }
            catch (EcrCacheException ex)
            {
                // The cache works without expiry; say so loudly instead of failing the build (or staying silent).
                Log.Warning(Diagnostic.Create(DiagnosticIds.GarCleanupPolicyFailed, repository.Name, days, ex.Diagnostic.ToString()));
                return repository;
            }
        }

        private PrivateDockerConfig WriteLogin(string token)
        {
            var created = PrivateDockerConfig.Create(_userConfigPath, _options.Host, AccessTokenUsername, token, PrivateConfigParent, DiagnosticIds.GarDockerConfigWriteFailed);
            _loginToken = token;
            Session.UsePrivateConfig(created);
            return created;
        }
    }
}
