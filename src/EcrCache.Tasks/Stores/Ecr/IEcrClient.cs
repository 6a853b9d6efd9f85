using System.Globalization;

namespace EcrCache.Stores.Ecr
{
    /// <summary>An ECR repository as DescribeRepositories/CreateRepository return it.</summary>
    /// <param name="RegistryId">The account id that owns the registry.</param>
    /// <param name="Uri">host/name, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/build-cache/org/pipeline.</param>
    internal sealed record EcrRepository(string Name, string Arn, string RegistryId, string Uri)
    {
        /// <summary>The registry host part of <see cref="Uri"/>.</summary>
        public string Host
        {
            get
            {
                var slash = Uri.IndexOf('/');
                return slash > 0 ? Uri.Substring(0, slash) : Uri;
            }
        }

        public override string ToString() => Uri;
    }

    /// <summary>A docker login for an ECR registry (GetAuthorizationToken). Redacted in <see cref="ToString"/>.</summary>
    /// <param name="Username">Always "AWS" for ECR.</param>
    /// <param name="Password">The token. Never log it.</param>
    /// <param name="ProxyEndpoint">https://&lt;account&gt;.dkr.ecr.&lt;region&gt;.amazonaws.com</param>
    internal sealed record EcrAuthorization(string Username, string Password, string ProxyEndpoint, DateTimeOffset? ExpiresAt)
    {
        public override string ToString() =>
            "EcrAuthorization(" + ProxyEndpoint + ", <redacted>" + (ExpiresAt.HasValue ? ", expires " + ExpiresAt.Value.ToString("o", CultureInfo.InvariantCulture) : string.Empty) + ")";
    }

    /// <summary>One control-plane call, as recorded by <see cref="RetryingApiClient{TCall}.Calls"/> (no bodies, no secrets).</summary>
    /// <param name="Status">The HTTP status, or 0 when the endpoint could not be reached.</param>
    internal sealed record EcrCall(string Operation, string Region, string Host, int Status, string? ErrorCode)
    {
        public override string ToString() => Operation + " (" + Region + ") -> " + Status.ToString(CultureInfo.InvariantCulture) + (ErrorCode != null ? " " + ErrorCode : string.Empty);
    }

    /// <summary>
    /// The few ECR control-plane operations EcrCache needs (see docs/ecr.md for why it is hand-written). Every call
    /// goes to <see cref="EcrSettings.Endpoint"/>, signed for <see cref="EcrSettings.Region"/>. Failures throw
    /// EcrCacheException with an ECRC15xx diagnostic; "not found" answers are results, not failures.
    /// </summary>
    internal interface IEcrClient : IDisposable
    {
        EcrSettings Settings { get; }

        /// <summary>DescribeRepositories for one name: the repository, or null when it does not exist.</summary>
        Task<EcrRepository?> DescribeRepositoryAsync(string name, CancellationToken cancellationToken);

        /// <summary>CreateRepository with resource tags: the new repository, or null when it already exists (a race).</summary>
        Task<EcrRepository?> CreateRepositoryAsync(string name, IReadOnlyList<KeyValuePair<string, string>> tags, CancellationToken cancellationToken);

        /// <summary>TagResource: adds or overwrites the tags on a repository ARN.</summary>
        Task TagResourceAsync(string arn, string repositoryName, IReadOnlyList<KeyValuePair<string, string>> tags, CancellationToken cancellationToken);

        /// <summary>GetLifecyclePolicy: the policy text, or null when the repository has none.</summary>
        Task<string?> GetLifecyclePolicyAsync(string name, string registryId, CancellationToken cancellationToken);

        Task PutLifecyclePolicyAsync(string name, string registryId, string policyText, CancellationToken cancellationToken);

        /// <summary>GetRepositoryPolicy: the policy text, or null when the repository has none.</summary>
        Task<string?> GetRepositoryPolicyAsync(string name, string registryId, CancellationToken cancellationToken);

        Task SetRepositoryPolicyAsync(string name, string registryId, string policyText, CancellationToken cancellationToken);

        /// <summary>GetAuthorizationToken for the caller's default registry in the region.</summary>
        Task<EcrAuthorization> GetAuthorizationTokenAsync(CancellationToken cancellationToken);
    }
}
