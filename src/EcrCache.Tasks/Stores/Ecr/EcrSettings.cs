using System.Globalization;
using System.Text.RegularExpressions;
using EcrCache.Options;

namespace EcrCache.Stores.Ecr
{
    /// <summary>
    /// Where and how the ECR control plane is called: the region (used by every call, login included), the API
    /// endpoint and the retry budget. Resolved once per invocation from the project's properties and the environment.
    /// </summary>
    internal sealed class EcrSettings
    {
        /// <summary>The region used when nothing names one (as the reference plugin's default).</summary>
        public const string FallbackRegion = "eu-west-1";

        /// <summary>Attempts per call in the AWS SDKs' "standard" retry mode.</summary>
        public const int DefaultMaxAttempts = 3;

        private static readonly Regex RegionPattern = new Regex("^[a-z]{2,4}(?:-[a-z]+)+-[0-9]{1,2}$", RegexOptions.CultureInvariant);

        public EcrSettings(string region, string regionSource, Uri endpoint, string endpointSource, int maxAttempts = DefaultMaxAttempts)
        {
            Region = region;
            RegionSource = regionSource;
            Endpoint = endpoint;
            EndpointSource = endpointSource;
            MaxAttempts = maxAttempts < 1 ? 1 : maxAttempts;
        }

        /// <summary>The region every call is signed for and sent to, e.g. eu-west-1.</summary>
        public string Region { get; }

        /// <summary>Where <see cref="Region"/> came from (EcrCacheRegion, AWS_REGION, profile 'x', default), for messages.</summary>
        public string RegionSource { get; }

        /// <summary>The ECR API endpoint, e.g. https://api.ecr.eu-west-1.amazonaws.com/.</summary>
        public Uri Endpoint { get; }

        /// <summary>Where <see cref="Endpoint"/> came from (the region, EcrCacheEcrEndpoint, AWS_ENDPOINT_URL_ECR, ...).</summary>
        public string EndpointSource { get; }

        /// <summary>Attempts per call, first one included (AWS_MAX_ATTEMPTS, default 3).</summary>
        public int MaxAttempts { get; }

        /// <summary>True when <see cref="Endpoint"/> comes from a property or an AWS_ENDPOINT_URL* variable.</summary>
        public bool EndpointOverridden { get; private set; }

        /// <summary>True for regions of the China partition (cn-north-1, cn-northwest-1).</summary>
        public static bool IsChinaRegion(string region) => region.StartsWith("cn-", StringComparison.Ordinal);

        /// <summary>The DNS suffix of the region's partition: amazonaws.com, or amazonaws.com.cn in China.</summary>
        public static string DnsSuffix(string region) => IsChinaRegion(region) ? "amazonaws.com.cn" : "amazonaws.com";

        /// <summary>The public ECR API endpoint of a region.</summary>
        public static Uri DefaultEndpoint(string region) => new Uri("https://api.ecr." + region + "." + DnsSuffix(region) + "/");

        /// <summary>The ECR registry (data-plane) host of an account in a region.</summary>
        public static string RegistryHost(string accountId, string region) => accountId + ".dkr.ecr." + region + "." + DnsSuffix(region);

        public static bool IsValidRegion(string region) => RegionPattern.IsMatch(region);

        /// <summary>
        /// Resolves the settings: region from <paramref name="regionProperty"/> (EcrCacheRegion), AWS_REGION,
        /// AWS_DEFAULT_REGION, the region of the active profile (AWS_PROFILE, else default), else eu-west-1; endpoint from
        /// <paramref name="endpointProperty"/> (EcrCacheEcrEndpoint), AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL (both ignored
        /// when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else the region's public endpoint. Throws BadEcrRegion and
        /// BadEcrEndpoint for malformed values.
        /// </summary>
        public static EcrSettings Resolve(string? regionProperty, string? endpointProperty, Func<string, string?> environment, Func<string?, string?>? profileRegion = null) =>
            Resolve(regionProperty, endpointProperty, environment, profileRegion, "AWS_ENDPOINT_URL_ECR", "EcrCacheEcrEndpoint");

        /// <summary>
        /// The same resolution for another AWS service (S3 for the tarball store): <paramref name="serviceEndpointVariable"/>
        /// (e.g. AWS_ENDPOINT_URL_S3) takes the place of AWS_ENDPOINT_URL_ECR; without an override, <see cref="Endpoint"/>
        /// is the ECR default and <see cref="EndpointOverridden"/> is false, so the caller uses its own service's endpoint.
        /// </summary>
        public static EcrSettings Resolve(string? regionProperty, string? endpointProperty, Func<string, string?> environment, Func<string?, string?>? profileRegion, string serviceEndpointVariable, string endpointPropertyName)
        {
            if (environment == null)
            {
                throw new ArgumentNullException(nameof(environment));
            }

            string region;
            string regionSource;
            if (!string.IsNullOrWhiteSpace(regionProperty))
            {
                region = regionProperty!.Trim();
                regionSource = "EcrCacheRegion";
            }
            else if (!string.IsNullOrWhiteSpace(environment("AWS_REGION")))
            {
                region = environment("AWS_REGION")!.Trim();
                regionSource = "AWS_REGION";
            }
            else if (!string.IsNullOrWhiteSpace(environment("AWS_DEFAULT_REGION")))
            {
                region = environment("AWS_DEFAULT_REGION")!.Trim();
                regionSource = "AWS_DEFAULT_REGION";
            }
            else
            {
                var profile = Validate.Trimmed(environment("AWS_PROFILE")) ?? Validate.Trimmed(environment("AWS_DEFAULT_PROFILE")) ?? "default";
                var fromProfile = (profileRegion ?? AwsProfiles.GetRegion)(profile);
                if (!string.IsNullOrWhiteSpace(fromProfile))
                {
                    region = fromProfile!.Trim();
                    regionSource = "the region of AWS profile '" + profile + "'";
                }
                else
                {
                    region = FallbackRegion;
                    regionSource = "the default";
                }
            }

            if (!IsValidRegion(region))
            {
                throw new EcrCacheException(DiagnosticIds.BadEcrRegion, region, regionSource);
            }

            Uri endpoint;
            string endpointSource;
            var ignoreEnvironment = string.Equals(Validate.Trimmed(environment("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")), "true", StringComparison.OrdinalIgnoreCase);
            string? overrideUrl = null;
            string? overrideSource = null;
            if (!string.IsNullOrWhiteSpace(endpointProperty))
            {
                overrideUrl = endpointProperty!.Trim();
                overrideSource = endpointPropertyName;
            }
            else if (!ignoreEnvironment && !string.IsNullOrWhiteSpace(environment(serviceEndpointVariable)))
            {
                overrideUrl = environment(serviceEndpointVariable)!.Trim();
                overrideSource = serviceEndpointVariable;
            }
            else if (!ignoreEnvironment && !string.IsNullOrWhiteSpace(environment("AWS_ENDPOINT_URL")))
            {
                overrideUrl = environment("AWS_ENDPOINT_URL")!.Trim();
                overrideSource = "AWS_ENDPOINT_URL";
            }

            if (overrideUrl != null)
            {
                if (!Uri.TryCreate(overrideUrl, UriKind.Absolute, out var parsed)
                    || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps)
                    || !string.IsNullOrEmpty(parsed.UserInfo)
                    || !string.IsNullOrEmpty(parsed.Query))
                {
                    throw new EcrCacheException(DiagnosticIds.BadEcrEndpoint, overrideUrl, overrideSource);
                }

                endpoint = parsed.AbsolutePath.EndsWith("/", StringComparison.Ordinal) ? parsed : new Uri(parsed.GetLeftPart(UriPartial.Path) + "/");
                endpointSource = overrideSource!;
            }
            else
            {
                endpoint = DefaultEndpoint(region);
                endpointSource = "the public endpoint of " + region;
            }

            var maxAttempts = DefaultMaxAttempts;
            var attemptsText = Validate.Trimmed(environment("AWS_MAX_ATTEMPTS"));
            if (attemptsText != null && int.TryParse(attemptsText, NumberStyles.None, CultureInfo.InvariantCulture, out var attempts) && attempts >= 1)
            {
                maxAttempts = Math.Min(attempts, 20);
            }

            return new EcrSettings(region, regionSource, endpoint, endpointSource, maxAttempts) { EndpointOverridden = overrideUrl != null };
        }

        public override string ToString() => "EcrSettings(" + Region + ", " + Endpoint + ")";

    }
}
