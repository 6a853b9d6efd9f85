using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Amazon.Runtime.Credentials;

namespace EcrCache.Stores.Ecr
{
    /// <summary>AWS credentials for signing one request. <see cref="ToString"/> is redacted.</summary>
    internal sealed class AwsCredentials
    {
        public AwsCredentials(string accessKeyId, string secretAccessKey, string? sessionToken = null)
        {
            AccessKeyId = accessKeyId ?? throw new ArgumentNullException(nameof(accessKeyId));
            SecretAccessKey = secretAccessKey ?? throw new ArgumentNullException(nameof(secretAccessKey));
            SessionToken = string.IsNullOrEmpty(sessionToken) ? null : sessionToken;
        }

        public string AccessKeyId { get; }

        public string SecretAccessKey { get; }

        public string? SessionToken { get; }

        public override string ToString() => "AwsCredentials(<redacted>)";
    }

    /// <summary>Where the ECR client gets credentials; asked before every request so refreshed credentials are used.</summary>
    internal interface IAwsCredentialSource
    {
        /// <summary>For messages: where the credentials come from (never a secret).</summary>
        string Description { get; }

        /// <summary>The current credentials; throws EcrCredentialsMissing (ECRC1501) when there are none.</summary>
        Task<AwsCredentials> GetAsync(CancellationToken cancellationToken);
    }

    /// <summary>Fixed credentials (tests, or a caller that resolved them itself).</summary>
    internal sealed class StaticAwsCredentialSource : IAwsCredentialSource
    {
        private readonly AwsCredentials _credentials;

        public StaticAwsCredentialSource(AwsCredentials credentials, string description = "static credentials")
        {
            _credentials = credentials ?? throw new ArgumentNullException(nameof(credentials));
            Description = description;
        }

        public string Description { get; }

        public Task<AwsCredentials> GetAsync(CancellationToken cancellationToken) => Task.FromResult(_credentials);
    }

    /// <summary>
    /// The AWS SDK's default credential chain (AWSSDK.Core's <see cref="DefaultAWSCredentialsIdentityResolver"/>:
    /// environment variables, the shared config and credentials files including SSO, credential_process and role_arn
    /// profiles, web identity (OIDC), ECS container credentials and EC2 instance metadata). When the build's own
    /// environment (which tests and the MSBuild node may set apart from the process's) holds AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY, those win, as they do first in the SDK's chain.
    /// </summary>
    internal sealed class DefaultAwsCredentialSource : IAwsCredentialSource
    {
        private readonly Func<string, string?> _environment;
        private readonly object _gate = new object();
        private AWSCredentials? _chain;

        public DefaultAwsCredentialSource(Func<string, string?> environment)
        {
            _environment = environment ?? throw new ArgumentNullException(nameof(environment));
        }

        public string Description
        {
            get
            {
                if (HasEnvironmentKeys())
                {
                    return "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment";
                }

                var chain = _chain;
                return chain == null
                    ? "the AWS SDK default credential chain"
                    : "the AWS SDK default credential chain (" + chain.GetType().Name + ")";
            }
        }

        public async Task<AwsCredentials> GetAsync(CancellationToken cancellationToken)
        {
            if (HasEnvironmentKeys())
            {
                return new AwsCredentials(_environment("AWS_ACCESS_KEY_ID")!.Trim(), _environment("AWS_SECRET_ACCESS_KEY")!.Trim(), _environment("AWS_SESSION_TOKEN"));
            }

            cancellationToken.ThrowIfCancellationRequested();
            ImmutableCredentials? immutable;
            try
            {
                AWSCredentials? chain;
                lock (_gate)
                {
                    chain = _chain;
                }

                if (chain == null)
                {
                    chain = await DefaultAWSCredentialsIdentityResolver.GetCredentialsAsync().ConfigureAwait(false);
                    lock (_gate)
                    {
                        _chain ??= chain;
                    }
                }

                immutable = await chain!.GetCredentialsAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (!(ex is OperationCanceledException) && !(ex is OutOfMemoryException))
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.EcrCredentialsMissing, FirstLine(ex.Message)), ex);
            }

            if (immutable == null || string.IsNullOrEmpty(immutable.AccessKey) || string.IsNullOrEmpty(immutable.SecretKey))
            {
                throw new EcrCacheException(DiagnosticIds.EcrCredentialsMissing, "the AWS SDK default credential chain returned empty credentials");
            }

            return new AwsCredentials(immutable.AccessKey, immutable.SecretKey, immutable.UseToken ? immutable.Token : null);
        }

        private bool HasEnvironmentKeys() =>
            !string.IsNullOrWhiteSpace(_environment("AWS_ACCESS_KEY_ID")) && !string.IsNullOrWhiteSpace(_environment("AWS_SECRET_ACCESS_KEY"));

        /// <summary>
        /// The SDK's message on one line: its first line ends with a colon and introduces one line per credential
        /// provider it tried, which is exactly what tells the user what to fix; keep them, joined, within bounds.
        /// </summary>
        internal static string FirstLine(string text)
        {
            var lines = text.Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries);
            var joined = string.Join("; ", lines.Select(l => l.Trim()).Where(l => l.Length > 0));
            joined = joined.Replace(":;", ":");
            if (joined.Length > 600)
            {
                joined = joined.Substring(0, 600) + "...";
            }

            return joined.TrimEnd('.', ':', ';', ' ');
        }
    }

    /// <summary>Reads the shared AWS config/credentials files through AWSSDK.Core.</summary>
    internal static class AwsProfiles
    {
        /// <summary>The region of a profile in ~/.aws/config (or AWS_CONFIG_FILE), or null.</summary>
        public static string? GetRegion(string? profileName)
        {
            try
            {
                var chain = new CredentialProfileStoreChain();
                if (chain.TryGetProfile(string.IsNullOrEmpty(profileName) ? "default" : profileName, out var profile) && profile?.Region != null)
                {
                    return profile.Region.SystemName;
                }
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                // An unreadable profile file is not a reason to fail: fall back to the default region.
            }

            return null;
        }
    }
}
