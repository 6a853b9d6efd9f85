using EcrCache.Stores;

namespace EcrCache.Core
{
    /// <summary>
    /// Creates the image store on first use only: a local hit whose image name is known from the stamp never needs it
    /// (for ECR creating it means DescribeRepositories, for a registry reading the docker config).
    /// </summary>
    internal sealed class LazyStore : IDisposable
    {
        private readonly Func<IImageStore> _create;
        private IImageStore? _store;

        public LazyStore(Func<IImageStore> create) => _create = create;

        public bool Created => _store != null;

        public IImageStore Get() => _store ??= _create();

        public void Dispose() => _store?.Dispose();
    }
}
