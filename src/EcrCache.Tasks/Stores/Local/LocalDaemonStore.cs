using EcrCache.Docker;

namespace EcrCache.Stores.Local
{
    /// <summary>The embedded default: images live only in the local daemon's image store.</summary>
    internal sealed class LocalDaemonStore : IImageStore
    {
        private readonly DockerCli _docker;

        public LocalDaemonStore(string repository, DockerCli docker)
        {
            Image = repository;
            _docker = docker;
        }

        public string Image { get; }

        public string Description => "the local Docker daemon";

        public bool HasRemote => false;

        public Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<bool> ExistsAsync(string tag, CancellationToken cancellationToken) => Task.FromResult(false);

        public Task FetchAsync(string tag, CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task PublishAsync(string tag, bool updateLatest, CancellationToken cancellationToken)
        {
            if (updateLatest)
            {
                await _docker.TagAsync(Image + ":" + tag, Image + ":latest", cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>The local daemon is the store: docker tag.</summary>
        public async Task TagAsync(string tag, IReadOnlyList<string> tags, CancellationToken cancellationToken)
        {
            foreach (var extra in tags.Where(t => !string.Equals(t, tag, StringComparison.Ordinal)))
            {
                await _docker.TagAsync(Image + ":" + tag, Image + ":" + extra, cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// None: the daemon's own build cache already holds the layers of earlier builds (BuildKit and the legacy
        /// builder both reuse it without --cache-from), and a local image as --cache-from would make BuildKit look
        /// for it in a registry.
        /// </summary>
        public Task<string?> PrepareCacheFromAsync(string? cacheFrom, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

        public void Dispose()
        {
        }
    }
}
