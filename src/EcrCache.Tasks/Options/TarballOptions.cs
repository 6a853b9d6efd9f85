using System.Globalization;
using System.Text.RegularExpressions;
using EcrCache.Stores.Ecr;

namespace EcrCache.Options
{
    /// <summary>Options of the tarball stores (EcrCacheProvider=s3 and EcrCacheProvider=directory).</summary>
    internal sealed class TarballOptions
    {
        /// <summary>S3: the bucket (EcrCacheS3Bucket).</summary>
        public string? S3Bucket { get; set; }

        /// <summary>S3: the key prefix, ending with '/' unless empty (EcrCacheS3Prefix; default the repository + '/').</summary>
        public string S3Prefix { get; set; } = "";

        /// <summary>S3: EcrCacheRegion, or null to resolve it as the ECR provider does.</summary>
        public string? Region { get; set; }

        /// <summary>Directory: the full path of the cache folder (EcrCacheDirectory).</summary>
        public string? Directory { get; set; }

        /// <summary>Directory: the size limit in bytes (EcrCacheDirectoryMaxSizeMB), 0 for none.</summary>
        public long DirectoryMaxBytes { get; set; }

        /// <summary>Days after which cached tarballs expire (EcrCacheMaxAgeDays, default 7; 0 = never).</summary>
        public int MaxAgeDays { get; set; } = 7;

        /// <summary>Entries kept after a push, newest first (EcrCacheKeepCount; 0 = no count limit).</summary>
        public int KeepCount { get; set; }
    }

    /// <summary>Validates the tarball stores' properties into <see cref="TarballOptions"/>.</summary>
    internal static class TarballOptionsParser
    {
        /// <summary>S3's bucket naming rules (general purpose buckets): 3-63 characters, lower case, digits, '.', '-'.</summary>
        private static readonly Regex BucketName = new Regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", RegexOptions.CultureInvariant);

        public static void Apply(RawOptions raw, CacheOptions options)
        {
            var tarball = new TarballOptions();
            var days = Validate.Trimmed(raw["MaxAgeDays"]);
            if (days != null)
            {
                tarball.MaxAgeDays = EcrOptionsParser.ParseMaxAgeDays(days);
            }

            if (options.Provider == ProviderKind.S3)
            {
                var bucket = Validate.Trimmed(raw["S3Bucket"]);
                if (bucket == null)
                {
                    throw new EcrCacheException(DiagnosticIds.S3BucketRequired);
                }

                tarball.S3Bucket = ValidateBucket(bucket);
                tarball.S3Prefix = NormalizePrefix(raw["S3Prefix"], options.Repository);

                var region = Validate.Trimmed(raw["Region"]);
                tarball.Region = region == null ? null : EcrOptionsParser.ValidateRegion(region);
            }
            else
            {
                var directory = Validate.Trimmed(raw["CacheDirectory"]);
                if (directory == null)
                {
                    throw new EcrCacheException(DiagnosticIds.DirectoryRequired);
                }

                tarball.Directory = Validate.FullPath(options.ProjectDirectory, directory);
                var max = Validate.Trimmed(raw["DirectoryMaxSizeMB"]);
                if (max != null)
                {
                    tarball.DirectoryMaxBytes = ParseDirectoryMaxSizeMB(max) * 1024 * 1024;
                }
            }

            options.Tarball = tarball;
        }

        // ValidateBucket, ParseDirectoryMaxSizeMB and NormalizePrefix also check these options for the providers that
        // ignore them (Core/ProviderOptions.cs).

        /// <summary>EcrCacheS3Bucket (trimmed, non-empty): a bucket name, or BadS3Bucket.</summary>
        internal static string ValidateBucket(string bucket)
        {
            if (!BucketName.IsMatch(bucket) || bucket.Contains("..") || Regex.IsMatch(bucket, "^[0-9.]+$"))
            {
                throw new EcrCacheException(DiagnosticIds.BadS3Bucket, bucket);
            }

            return bucket;
        }

        /// <summary>EcrCacheDirectoryMaxSizeMB (trimmed, non-empty): whole megabytes, or BadDirectoryMaxSize.</summary>
        internal static long ParseDirectoryMaxSizeMB(string max)
        {
            if (!long.TryParse(max, NumberStyles.None, CultureInfo.InvariantCulture, out var mb) || mb < 0 || mb > 1L << 30)
            {
                throw new EcrCacheException(DiagnosticIds.BadDirectoryMaxSize, max);
            }

            return mb;
        }

        /// <summary>
        /// The key prefix: EcrCacheS3Prefix as given (a leading '/' dropped, a trailing '/' added), or the repository
        /// followed by '/' (build-cache/&lt;org&gt;/&lt;pipeline&gt;/). "/" alone means the bucket's root.
        /// </summary>
        internal static string NormalizePrefix(string? prefix, string repository)
        {
            var text = Validate.Trimmed(prefix);
            if (text == null)
            {
                return repository.TrimEnd('/') + "/";
            }

            text = text.Replace('\\', '/').TrimStart('/');
            if (text.Length == 0)
            {
                return "";
            }

            if (text.Length > 900 || text.Contains("//") || text.IndexOfAny(new[] { '\r', '\n', '\0' }) >= 0)
            {
                throw new EcrCacheException(DiagnosticIds.BadS3Prefix, prefix);
            }

            return text.EndsWith("/", StringComparison.Ordinal) ? text : text + "/";
        }
    }
}
