using System;
using System.Globalization;
using EcrCache.Core;
using EcrCache.Diagnostics;
using EcrCache.Logging;

namespace EcrCache.Reliability
{
    /// <summary>
    /// The reliability options (EcrCacheDockerRetries, EcrCacheLeaseTimeout) and the secret-looking BuildArg warning.
    /// Called once from <see cref="OptionsParser"/>.
    /// </summary>
    public static class ReliabilityOptionsParser
    {
        public const int MaxDockerRetries = 10;
        public static readonly TimeSpan MaxLeaseTimeout = TimeSpan.FromHours(24);

        /// <summary>Name fragments that mark a build arg as probably secret (matched case-insensitively).</summary>
        public static readonly string[] SecretLookingFragments = { "TOKEN", "PASSWORD", "PASSWD", "SECRET", "KEY" };

        public const string AllowSecretLookingNameMetadata = "AllowSecretLookingName";

        public static void Apply(RawOptions raw, CacheOptions options, IBuildLog log)
        {
            options.DockerRetries = ParseRetries(raw.DockerRetries);
            options.LeaseTimeout = ParseLeaseTimeout(raw.LeaseTimeout);

            foreach (var item in raw.BuildArgs)
            {
                var name = item.ItemSpec.Trim();
                var allowed = OptionsParser.ParseBool("AllowSecretLookingName metadata of BuildArg '" + name + "'", item.Get(AllowSecretLookingNameMetadata), false);
                var fragment = SecretLookingFragment(name);
                if (fragment != null && !allowed)
                {
                    log.Warning(Diagnostic.Create(DiagnosticIds.SecretLookingBuildArg, name, fragment));
                }
            }
        }

        /// <summary>The fragment that makes <paramref name="name"/> look like a secret, or null.</summary>
        public static string? SecretLookingFragment(string name)
        {
            foreach (var fragment in SecretLookingFragments)
            {
                if (name.IndexOf(fragment, StringComparison.OrdinalIgnoreCase) >= 0)
                {
                    return fragment;
                }
            }

            return null;
        }

        internal static int ParseRetries(string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                return 3;
            }

            if (!int.TryParse(value!.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var retries) || retries > MaxDockerRetries)
            {
                throw new EcrCacheException(DiagnosticIds.BadDockerRetries, value);
            }

            return retries;
        }

        /// <summary>Whole minutes ("30"), or a TimeSpan ("00:30:00"); "0" turns locks and leases off.</summary>
        internal static TimeSpan ParseLeaseTimeout(string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                return TimeSpan.FromMinutes(30);
            }

            var text = value!.Trim();
            TimeSpan timeout;
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var minutes))
            {
                timeout = TimeSpan.FromMinutes(minutes);
            }
            else if (text.IndexOf(':') < 0 || !TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out timeout))
            {
                throw new EcrCacheException(DiagnosticIds.BadLeaseTimeout, value);
            }

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
