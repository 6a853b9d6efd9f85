using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using EcrCache.Stores.Ecr;

namespace EcrCache.Stores.Tarballs.S3
{
    /// <summary>
    /// Builds the AWS SDK S3 client the way the ECR provider reaches AWS: region and endpoint override from
    /// <see cref="EcrSettings"/> (EcrCacheRegion, AWS_REGION, AWS_DEFAULT_REGION, the profile; AWS_ENDPOINT_URL_S3,
    /// AWS_ENDPOINT_URL), credentials from <see cref="DefaultAwsCredentialSource"/> (the build's environment, then the
    /// SDK's default chain), HTTP clients from Http/HttpClients. With an endpoint override (moto, MinIO) addressing is
    /// path-style, since such servers rarely have per-bucket DNS names.
    /// </summary>
    internal static class S3ClientFactory
    {
        public static EcrSettings ResolveSettings(string? region, Func<string, string?> environment) =>
            EcrSettings.Resolve(region, null, environment, null, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_S3");

        public static AmazonS3Client Create(EcrSettings settings, IAwsCredentialSource credentials)
        {
            var config = new AmazonS3Config
            {
                RegionEndpoint = RegionEndpoint.GetBySystemName(settings.Region),
                RetryMode = RequestRetryMode.Standard,
                MaxErrorRetry = Math.Max(0, settings.MaxAttempts - 1),
            };
#if !NETFRAMEWORK
            // .NET Framework's SDK build sends through HttpWebRequest and has no factory hook.
            config.HttpClientFactory = new EcrCacheHttpClientFactory();
#endif
            if (settings.EndpointOverridden)
            {
                config.ServiceURL = settings.Endpoint.ToString();
                config.AuthenticationRegion = settings.Region;
                config.ForcePathStyle = true;
            }

            return new AmazonS3Client(new SourceCredentials(credentials), config);
        }

        /// <summary>The SDK asks these for keys before each request; they come from the shared credential source.</summary>
        private sealed class SourceCredentials : AWSCredentials
        {
            private readonly IAwsCredentialSource _source;

            public SourceCredentials(IAwsCredentialSource source) => _source = source;

            public override ImmutableCredentials GetCredentials() => GetCredentialsAsync().GetAwaiter().GetResult();

            public override async Task<ImmutableCredentials> GetCredentialsAsync()
            {
                var credentials = await _source.GetAsync(System.Threading.CancellationToken.None).ConfigureAwait(false);
                return new ImmutableCredentials(credentials.AccessKeyId, credentials.SecretAccessKey, credentials.SessionToken);
            }
        }

#if !NETFRAMEWORK
        /// <summary>Hands the SDK an EcrCache HTTP client (no redirects, no cookies, no 100 s cap on a large transfer).</summary>
        private sealed class EcrCacheHttpClientFactory : HttpClientFactory
        {
            // The SDK retries itself (standard mode, MaxErrorRetry above; it also knows S3's SlowDown and re-creates
            // streamed bodies), so the shared policy below it is None rather than a second layer of retries.
            public override HttpClient CreateHttpClient(IClientConfig clientConfig) => EcrCache.Http.HttpClients.Create(retry: EcrCache.Http.HttpRetryPolicy.None);

            public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => true;

            public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;
        }
#endif
    }
}
