namespace EcrCache.Options
{
    /// <summary>The reliability options: EcrCacheDockerRetries and EcrCacheLeaseTimeout (docs/reliability.md).</summary>
    internal static class ReliabilityOptions
    {
        public const int MaxDockerRetries = 10;
        public static readonly TimeSpan MaxLeaseTimeout = TimeSpan.FromHours(24);

        public static void Apply(RawOptions raw, CacheOptions options)
        {
            options.DockerRetries = ParseRetries(raw["DockerRetries"]);
            options.LeaseTimeout = ParseLeaseTimeout(raw["LeaseTimeout"]);
        }

        internal static int ParseRetries(string? value) =>
            string.IsNullOrWhiteSpace(value) ? 3 : Validate.Integer(value!, 0, MaxDockerRetries, DiagnosticIds.BadDockerRetries);

        /// <summary>Whole minutes ("30"), or a TimeSpan ("00:30:00"); "0" turns locks and leases off.</summary>
        internal static TimeSpan ParseLeaseTimeout(string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                return TimeSpan.FromMinutes(30);
            }

            var timeout = Validate.Duration(value!, DiagnosticIds.BadLeaseTimeout);
            if (timeout == TimeSpan.Zero)
            {
                return TimeSpan.Zero;
            }

            if (timeout < TimeSpan.FromSeconds(1) || timeout > MaxLeaseTimeout)
            {
                throw new EcrCacheException(DiagnosticIds.BadLeaseTimeout, value);
            }

            return timeout;
        }
    }
}
