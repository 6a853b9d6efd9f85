namespace EcrCache.Leases
{
    /// <summary>
    /// Where a store keeps build leases, for coordination across hosts. Implementations: registry lease tags
    /// (<see cref="RegistryLeaseBackend"/>, OCI registries and ECR); an S3 store would use a conditional PutObject
    /// (If-None-Match: *), which is a true compare-and-set. Every method may throw EcrCacheException; the coordinator
    /// then builds without a lease (wasted work at worst, never a wrong image).
    /// </summary>
    internal interface ILeaseBackend
    {
        /// <summary>For logs: "lease tag build-cache/app:abc-lease in registry 127.0.0.1:5000".</summary>
        string Describe(string tag);

        /// <summary>True when writing then reading back is only a best effort (registries); false for a real CAS (S3).</summary>
        bool NeedsSettleDelay { get; }

        /// <summary>The current lease on <paramref name="tag"/>, or null when there is none (or it is unreadable).</summary>
        Task<LeaseRecord?> ReadAsync(string tag, CancellationToken cancellationToken);

        /// <summary>
        /// Writes <paramref name="record"/> as the lease. <paramref name="replacing"/> is the lease this write is
        /// meant to replace (null: there was none), for stores that can make the write conditional. Returns false
        /// when a conditional store refused the write because someone else got there first.
        /// </summary>
        Task<bool> WriteAsync(string tag, LeaseRecord record, LeaseRecord? replacing, CancellationToken cancellationToken);
    }

    /// <summary>A store that can hold build leases. Stores that cannot (the local daemon) simply do not implement it.</summary>
    internal interface ILeaseCapableStore
    {
        /// <summary>The lease backend, or null when this store cannot hold one right now (call after PrepareAsync).</summary>
        ILeaseBackend? LeaseBackend { get; }
    }
}
