namespace EcrCache.Options
{
    /// <summary>
    /// The reliability options: EcrCacheDockerRetries, EcrCacheLeaseTimeout, EcrCacheLeaseRenewInterval and
    /// EcrCacheLeaseTtl (docs/reliability.md).
    /// </summary>
    internal static class ReliabilityOptions
    {
        public const int MaxDockerRetries = 10;
        public static readonly TimeSpan MaxLeaseTimeout = TimeSpan.FromHours(24);
        public static readonly TimeSpan DefaultLeaseRenewInterval = TimeSpan.FromSeconds(20);
        public static readonly TimeSpan DefaultLeaseTtl = TimeSpan.FromSeconds(90);

        public static void Apply(RawOptions raw, CacheOptions options)
        {
            options.DockerRetries = ParseRetries(raw["DockerRetries"]);
            options.LeaseTimeout = ParseLeaseTimeout(raw["LeaseTimeout"]);
            options.LeaseRenewInterval = Validate.Duration(raw["LeaseRenewInterval"], DefaultLeaseRenewInterval, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), DiagnosticIds.BadLeaseRenewInterval);
            options.LeaseTtl = Validate.Duration(raw["LeaseTtl"], DefaultLeaseTtl, TimeSpan.FromSeconds(2), MaxLeaseTimeout, DiagnosticIds.BadLeaseTtl);
            if (options.LeaseRenewInterval >= options.LeaseTtl)
            {
                // A healthy builder's lease would lapse between two renewals, and others would build the same image.
                throw new EcrCacheException(DiagnosticIds.LeaseRenewIntervalNotBelowTtl, Format(options.LeaseRenewInterval), Format(options.LeaseTtl));
            }
        }

        private static string Format(TimeSpan duration) => duration.ToString("c", System.Globalization.CultureInfo.InvariantCulture);

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
