namespace EcrCache.Stores
{
    /// <summary>
    /// Thrown by <see cref="IImageStore.FetchAsync"/> when the stored entry exists but cannot be used (a truncated or
    /// corrupt tarball). The engine logs <see cref="Diagnostic"/> as a warning and rebuilds as on a miss; the rebuilt
    /// image then replaces the entry.
    /// </summary>
    internal sealed class StoreEntryUnusableException : Exception
    {
        public StoreEntryUnusableException(Diagnostic diagnostic, Exception? inner = null)
            : base(diagnostic.ToString(), inner)
        {
            Diagnostic = diagnostic;
        }

        public Diagnostic Diagnostic { get; }
    }
}
