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
    internal static class ReliabilityOptionsParser
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
            CheckDockerfileHasFrom(options);
            CheckEnvFileFolder(options.EnvFile);

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

        private static readonly System.Text.RegularExpressions.Regex FromLine = new System.Text.RegularExpressions.Regex(
            @"^\s*FROM\s+\S", System.Text.RegularExpressions.RegexOptions.Multiline | System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);

        /// <summary>A Dockerfile without any FROM can only fail in docker build: say so before anything runs.</summary>
        internal static void CheckDockerfileHasFrom(CacheOptions options)
        {
            string? text = options.DockerfileInline;
            if (text == null && options.DockerfilePath != null)
            {
                try
                {
                    text = System.IO.File.ReadAllText(options.DockerfilePath);
                }
                catch (Exception ex) when (ex is System.IO.IOException || ex is UnauthorizedAccessException)
                {
                    return; // ECRC1109 reports it where the Dockerfile is hashed.
                }
            }

            if (text != null && !FromLine.IsMatch(text))
            {
                throw new EcrCacheException(DiagnosticIds.DockerfileNoFrom, options.DockerfilePath ?? "EcrCacheDockerfileInline");
            }
        }

        /// <summary>
        /// The env file's folder is created when missing, but a path through an existing file can never be written:
        /// fail before building rather than after.
        /// </summary>
        internal static void CheckEnvFileFolder(string envFile)
        {
            if (string.IsNullOrEmpty(envFile))
            {
                return;
            }

            var folder = System.IO.Path.GetDirectoryName(envFile);
            while (!string.IsNullOrEmpty(folder) && !System.IO.Directory.Exists(folder))
            {
                if (System.IO.File.Exists(folder))
                {
                    throw new EcrCacheException(DiagnosticIds.EnvFileWriteFailed, envFile, "'" + folder + "' is a file, not a folder");
                }

                folder = System.IO.Path.GetDirectoryName(folder);
            }

            if (System.IO.Directory.Exists(envFile))
            {
                throw new EcrCacheException(DiagnosticIds.EnvFileWriteFailed, envFile, "it is a folder");
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

            var timeout = OptionsParser.ParseMinutesOrTimeSpan(value!, DiagnosticIds.BadLeaseTimeout);
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
