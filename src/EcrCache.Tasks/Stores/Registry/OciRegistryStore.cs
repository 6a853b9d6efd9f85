using EcrCache.Docker;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;

namespace EcrCache.Stores.Registry
{
    /// <summary>
    /// Any OCI distribution registry (EcrCacheProvider=registry). Existence is one HEAD of the manifest, authenticated
    /// from the user's docker config; pulls and pushes go through the docker CLI, which uses the same config.
    /// </summary>
    internal sealed class OciRegistryStore : IImageStore, Leases.ILeaseCapableStore
    {
        private readonly RegistryEndpoint _endpoint;
        private readonly IRegistryCredentialProvider _credentials;
        private readonly IBuildLog _log;
        private RegistryClient? _leaseClient;
        private Leases.RegistryLeaseBackend? _leases;
        private readonly DockerCli _docker;
        private readonly RegistryClient _client;
        private readonly string _repository;

        public OciRegistryStore(RegistryEndpoint endpoint, string repository, DockerCli docker, IRegistryCredentialProvider credentials, IBuildLog log)
        {
            _docker = docker;
            _repository = repository;
            _client = new RegistryClient(endpoint, credentials, log);
            _endpoint = endpoint;
            _credentials = credentials;
            _log = log;
            Image = endpoint.Host + "/" + repository;
            Description = "registry " + endpoint.Host;
        }

        public string Image { get; }

        public string Description { get; }

        public bool HasRemote => true;

        /// <summary>EcrCacheRegistryPrune: how old key tags are pruned after a push; null leaves the repository alone.</summary>
        public RegistryPruneSettings? Prune { get; set; }

        /// <summary>Tags the pruner never deletes (nor the manifests they point at), beside latest, leases and the current key tag.</summary>
        public IReadOnlyCollection<string> ProtectedTags { get; set; } = new List<string>();

        /// <summary>Now, for the ages of the tags the pruner reads.</summary>
        public Func<DateTime> UtcNow { get; set; } = () => DateTime.UtcNow;

        public Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task<bool> ExistsAsync(string tag, CancellationToken cancellationToken)
        {
            var manifest = await _client.HeadManifestAsync(_repository, tag, cancellationToken).ConfigureAwait(false);
            return manifest != null;
        }

        public Task FetchAsync(string tag, CancellationToken cancellationToken) =>
            _docker.PullAsync(Image + ":" + tag, cancellationToken);

        public async Task PublishAsync(string tag, bool updateLatest, CancellationToken cancellationToken)
        {
            await _docker.PushAsync(Image + ":" + tag, cancellationToken).ConfigureAwait(false);
            if (updateLatest)
            {
                await _docker.TagAsync(Image + ":" + tag, Image + ":latest", cancellationToken).ConfigureAwait(false);
                await _docker.PushAsync(Image + ":latest", cancellationToken).ConfigureAwait(false);
            }

            if (Prune != null)
            {
                // Deleting needs more than pull rights: a client of its own asks for push (a delete challenge adds its scope).
                using var client = new RegistryClient(_endpoint, _credentials, _log) { Access = RegistryAccess.Pull | RegistryAccess.Push };
                await RegistryPruner.PruneAsync(client, _repository, tag, ProtectedTags, Prune, _log, UtcNow(), cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// The remote tag (latest by default) when it exists (one HEAD); the engine pulls it for the legacy builder. A full
        /// reference in this registry is looked up the same way; one in another registry is passed on unchecked.
        /// </summary>
        public async Task<string?> PrepareCacheFromAsync(string? cacheFrom, CancellationToken cancellationToken)
        {
            var (repository, tag) = CacheFromSource.InRegistry(cacheFrom, _endpoint.Host, _repository);
            if (repository == null)
            {
                return cacheFrom;
            }

            var manifest = await _client.HeadManifestAsync(repository, tag, cancellationToken).ConfigureAwait(false);
            return manifest != null ? _endpoint.Host + "/" + repository + ":" + tag : null;
        }

        /// <summary>Extra tags by manifest copy (<see cref="RemoteTags"/>), with the client that may push.</summary>
        public Task TagAsync(string tag, IReadOnlyList<string> tags, CancellationToken cancellationToken)
        {
            _ = LeaseBackend;
            return RemoteTags.PointAsync(_leaseClient!, _repository, Image, tag, tags, Description, _log, cancellationToken);
        }


        /// <summary>Lease tags in the image's repository, through a client that asks for push rights (docs/reliability.md).</summary>
        public Leases.ILeaseBackend? LeaseBackend
        {
            get
            {
                if (_leases == null)
                {
                    _leaseClient = new RegistryClient(_endpoint, _credentials, _log) { Access = RegistryAccess.Pull | RegistryAccess.Push };
                    _leases = new Leases.RegistryLeaseBackend(_leaseClient, _repository, Description);
                }

                return _leases;
            }
        }

        public void Dispose()
        {
            _leaseClient?.Dispose();
            _client.Dispose();
        }
    }
}
