using EcrCache.Docker;
using EcrCache.Registries.Oci;

namespace EcrCache.Registries.Auth
{
    /// <summary>
    /// The part of a cloud registry store (ECR, Artifact Registry) that does not depend on the cloud: the private
    /// DOCKER_CONFIG that docker is pointed at while the store lives, the data-plane <see cref="RegistryClient"/> for
    /// HEAD requests, and the docker pull/push/tag calls. The store decides how to log in (credential helper or a token
    /// in a private config) and hands the result here.
    /// </summary>
    internal sealed class CloudRegistrySession : IDisposable
    {
        private readonly DockerCli _docker;
        private readonly RegistryEndpoint _endpoint;
        private readonly IBuildLog _log;

        public CloudRegistrySession(DockerCli docker, RegistryEndpoint endpoint, IBuildLog log)
        {
            _docker = docker;
            _endpoint = endpoint;
            _log = log;
        }

        /// <summary>The data-plane client, after <see cref="Connect"/>.</summary>
        public RegistryClient? Registry { get; private set; }

        /// <summary>The private DOCKER_CONFIG docker uses, or null (not logged in, or a credential helper does it).</summary>
        public PrivateDockerConfig? PrivateConfig { get; private set; }

        /// <summary>Points docker at <paramref name="config"/> and removes the private config it replaces, if any.</summary>
        public void UsePrivateConfig(PrivateDockerConfig config)
        {
            var previous = PrivateConfig;
            PrivateConfig = config;
            _docker.Environment["DOCKER_CONFIG"] = config.Directory;
            previous?.Dispose();
        }

        /// <summary>Creates the data-plane client (pull and push access) with <paramref name="credentials"/>.</summary>
        public void Connect(IRegistryCredentialProvider credentials)
        {
            Registry = new RegistryClient(_endpoint, credentials, _log) { Access = RegistryAccess.Pull | RegistryAccess.Push };
        }

        /// <summary>Whether <paramref name="repository"/>:<paramref name="tag"/> exists (one HEAD); after <see cref="Connect"/>.</summary>
        public async Task<bool> ExistsAsync(string repository, string tag, CancellationToken cancellationToken)
        {
            var manifest = await Registry!.HeadManifestAsync(repository, tag, cancellationToken).ConfigureAwait(false);
            return manifest != null;
        }

        public Task PullAsync(string image, string tag, CancellationToken cancellationToken) =>
            _docker.PullAsync(image + ":" + tag, cancellationToken);

        /// <summary>Pushes <paramref name="image"/>:<paramref name="tag"/>, and tags and pushes it as latest too when asked.</summary>
        public async Task PushAsync(string image, string tag, bool updateLatest, CancellationToken cancellationToken)
        {
            await _docker.PushAsync(image + ":" + tag, cancellationToken).ConfigureAwait(false);
            if (updateLatest)
            {
                await _docker.TagAsync(image + ":" + tag, image + ":latest", cancellationToken).ConfigureAwait(false);
                await _docker.PushAsync(image + ":latest", cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>Gives docker its own DOCKER_CONFIG back (when it is still ours), removes the private config and the client.</summary>
        public void Dispose()
        {
            if (PrivateConfig != null)
            {
                if (_docker.Environment.TryGetValue("DOCKER_CONFIG", out var current) && current == PrivateConfig.Directory)
                {
                    _docker.Environment.Remove("DOCKER_CONFIG");
                }

                PrivateConfig.Dispose();
            }

            Registry?.Dispose();
        }
    }
}
