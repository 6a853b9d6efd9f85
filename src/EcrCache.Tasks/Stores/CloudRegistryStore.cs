using EcrCache.Docker;
using EcrCache.Leases;
using EcrCache.Processes;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;

namespace EcrCache.Stores
{
    /// <summary>
    /// What a cloud registry store (ECR, Artifact Registry) does the same way whatever the cloud: prepare once before
    /// the first lookup (the cloud's repository set-up, then the docker login), answer existence with one registry HEAD,
    /// pull and push through docker, and hold leases as tags in the repository. The login is skipped when the user's
    /// docker config routes the registry host to a credential helper, either for that host or as the credsStore when it
    /// is one of the cloud's own helpers: the helper keeps its own tokens fresh, and writing a login would either fail
    /// under it ("Error saving credentials ... not implemented") or override it. Otherwise the store logs docker in with
    /// a cloud token in a private DOCKER_CONFIG (<see cref="LogInWithTokenAsync"/>).
    /// </summary>
    internal abstract class CloudRegistryStore : IImageStore, ILeaseCapableStore
    {
        private readonly string _repository;
        private readonly IProcessRunner _runner;
        private readonly Func<string, string?> _environment;
        private readonly string[] _credentialStoreHelpers;
        private bool _prepared;
        private bool _disposed;

        /// <param name="registryHost">The data-plane host docker pushes to and pulls from.</param>
        /// <param name="repository">The repository path in that registry (without the host).</param>
        /// <param name="environment">The build's environment (docker config location, PATH for credential helpers).</param>
        /// <param name="credentialStoreHelpers">The cloud's credential helpers that serve its hosts when a docker config names one as its credsStore.</param>
        protected CloudRegistryStore(string registryHost, bool registryInsecure, string repository, string description, DockerCli docker, IProcessRunner runner, IBuildLog log, Func<string, string?> environment, params string[] credentialStoreHelpers)
        {
            RegistryHost = registryHost;
            _repository = repository;
            _runner = runner;
            _environment = environment;
            _credentialStoreHelpers = credentialStoreHelpers;
            Log = log;
            Session = new CloudRegistrySession(docker, RegistryEndpoint.Parse(registryHost, registryInsecure), log);
            Image = registryHost + "/" + repository;
            Description = description;
        }

        public string Image { get; }

        public string Description { get; }

        public bool HasRemote => true;

        /// <summary>The data-plane host docker talks to.</summary>
        public string RegistryHost { get; }

        /// <summary>True when docker was logged in through a private DOCKER_CONFIG (false when a credential helper does it).</summary>
        public bool LoggedIn => Session.PrivateConfig != null;

        /// <summary>The private DOCKER_CONFIG folder while the store lives, or null.</summary>
        public string? PrivateDockerConfigDirectory => Session.PrivateConfig?.Directory;

        /// <summary>Lease tags in the repository through the data-plane client (which has push rights); after PrepareAsync.</summary>
        public ILeaseBackend? LeaseBackend =>
            Session.Registry == null ? null : new RegistryLeaseBackend(Session.Registry, _repository, Description);

        /// <summary>EcrCachePush=false: prepare only logs in; the cloud's repository set-up (creation, expiry, labels) is skipped.</summary>
        public bool ReadOnly { get; set; }

        protected IBuildLog Log { get; }

        protected CloudRegistrySession Session { get; }

        public async Task PrepareAsync(CancellationToken cancellationToken)
        {
            if (_prepared)
            {
                return;
            }

            if (ReadOnly)
            {
                Log.Detail("EcrCachePush=false: the repository, its policies and its labels are neither created nor changed.");
            }
            else
            {
                await PrepareRepositoryAsync(cancellationToken).ConfigureAwait(false);
            }

            await LoginAsync(cancellationToken).ConfigureAwait(false);
            _prepared = true;
        }

        public async Task<bool> ExistsAsync(string tag, CancellationToken cancellationToken)
        {
            await PrepareAsync(cancellationToken).ConfigureAwait(false);
            return await Session.ExistsAsync(_repository, tag, cancellationToken).ConfigureAwait(false);
        }

        public async Task FetchAsync(string tag, CancellationToken cancellationToken)
        {
            await PrepareAsync(cancellationToken).ConfigureAwait(false);
            await RefreshLoginAsync(cancellationToken).ConfigureAwait(false);
            await Session.PullAsync(Image, tag, cancellationToken).ConfigureAwait(false);
        }

        public async Task PublishAsync(string tag, bool updateLatest, CancellationToken cancellationToken)
        {
            await PrepareAsync(cancellationToken).ConfigureAwait(false);
            await RefreshLoginAsync(cancellationToken).ConfigureAwait(false);
            await Session.PushAsync(Image, tag, updateLatest, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>The remote tag (latest by default) when it exists (one HEAD, after login); the engine pulls it for the legacy builder.</summary>
        public async Task<string?> PrepareCacheFromAsync(string? cacheFrom, CancellationToken cancellationToken)
        {
            await PrepareAsync(cancellationToken).ConfigureAwait(false);
            var (repository, tag) = CacheFromSource.InRegistry(cacheFrom, RegistryHost, _repository);
            if (repository == null)
            {
                return cacheFrom;
            }

            return await Session.ExistsAsync(repository, tag, cancellationToken).ConfigureAwait(false) ? RegistryHost + "/" + repository + ":" + tag : null;
        }

        /// <summary>Extra tags by manifest copy through the data-plane client (<see cref="RemoteTags"/>).</summary>
        public async Task TagAsync(string tag, IReadOnlyList<string> tags, CancellationToken cancellationToken)
        {
            await PrepareAsync(cancellationToken).ConfigureAwait(false);
            await RemoteTags.PointAsync(Session.Registry!, _repository, Image, tag, tags, Description, Log, cancellationToken).ConfigureAwait(false);
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Session.Dispose();
            DisposeClient();
        }

        /// <summary>The cloud's part of <see cref="PrepareAsync"/>: the repository exists and carries the expiry and access settings.</summary>
        protected abstract Task PrepareRepositoryAsync(CancellationToken cancellationToken);

        /// <summary>Logs docker in with a cloud token in a private DOCKER_CONFIG; returns the credentials for the registry HEADs.</summary>
        protected abstract Task<IRegistryCredentialProvider> LogInWithTokenAsync(DockerConfig config, CancellationToken cancellationToken);

        /// <summary>Before a pull or push: a store whose tokens expire within a build logs in again here.</summary>
        protected virtual Task RefreshLoginAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        /// <summary>Disposes the control-plane client, which the store owns.</summary>
        protected abstract void DisposeClient();

        private async Task LoginAsync(CancellationToken cancellationToken)
        {
            var config = DockerConfig.Load(_environment);
            var helper = config.GetHostCredentialHelper(RegistryHost)
                ?? (config.CredentialsStore != null && _credentialStoreHelpers.Contains(config.CredentialsStore, StringComparer.Ordinal) ? config.CredentialsStore : null);
            IRegistryCredentialProvider credentials;
            if (helper != null)
            {
                Log.Info("Your docker config (" + config.Path + ") routes " + RegistryHost + " to docker-credential-" + helper + "; not logging in.");
                credentials = new DockerConfigCredentialProvider(config, _runner, _environment, Log);
            }
            else
            {
                credentials = await LogInWithTokenAsync(config, cancellationToken).ConfigureAwait(false);
            }

            Session.Connect(credentials);
        }
    }
}
