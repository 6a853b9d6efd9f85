using EcrCache.Core;
using EcrCache.Docker;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Registries.Auth;

namespace EcrCache.Stores.Ecr
{
    /// <summary>What <see cref="EcrStore"/> needs beyond the client: the repository and the settings to keep on it.</summary>
    internal sealed class EcrStoreOptions
    {
        public string Repository { get; set; } = "";

        /// <summary>Resource tags to create the repository with, or to apply to it when it exists.</summary>
        public IList<KeyValuePair<string, string>> Tags { get; set; } = new List<KeyValuePair<string, string>>();

        /// <summary>Days after push when images expire; 0 leaves the lifecycle policy alone.</summary>
        public int MaxAgeDays { get; set; } = 7;

        /// <summary>The newest images a count rule keeps (EcrCacheKeepCount); 0 writes no count rule.</summary>
        public int KeepCount { get; set; }

        /// <summary>Accounts that may pull (a repository policy statement); empty leaves the policy alone.</summary>
        public IList<string> PullAccounts { get; set; } = new List<string>();

        /// <summary>host[:port] that docker pushes to and pulls from instead of the repository's own registry host.</summary>
        public string? RegistryOverride { get; set; }

        public bool RegistryInsecure { get; set; }

        /// <summary>The build's environment (docker config location, PATH for credential helpers).</summary>
        public Func<string, string?> Environment { get; set; } = System.Environment.GetEnvironmentVariable;

        /// <summary>Where the private DOCKER_CONFIG folder is created (default: the temp folder).</summary>
        public string? PrivateConfigParent { get; set; }

        /// <summary>
        /// EcrCachePush=false: a missing repository is not created (its URI comes from the registry the authorization
        /// token names), and no tags, lifecycle or repository policy are written.
        /// </summary>
        public bool ReadOnly { get; set; }
    }

    /// <summary>
    /// AWS ECR (EcrCacheProvider=ecr). Creating the store resolves the repository: DescribeRepositories, and
    /// CreateRepository with the EcrTag tags when it is missing (TagResource when it exists and tags are set); the registry
    /// host and account come from the answer. <see cref="PrepareAsync"/> keeps the expiry lifecycle policy and the
    /// optional pull-accounts policy in place (read first, written only when different) and logs docker in: not at all
    /// when the user's docker config routes the host to a credential helper (ecr-login), else with a
    /// GetAuthorizationToken token in a private DOCKER_CONFIG. Existence is one registry HEAD of the manifest.
    /// </summary>
    internal sealed class EcrStore : CloudRegistryStore
    {
        private readonly IEcrClient _client;
        private readonly EcrStoreOptions _options;
        private readonly EcrRepository _repository;

        private EcrStore(IEcrClient client, EcrStoreOptions options, DockerCli docker, IProcessRunner runner, IBuildLog log, EcrRepository repository, string registryHost)
            : base(registryHost, options.RegistryInsecure, repository.Name, "ECR " + registryHost + " (" + client.Settings.Region + ")", docker, runner, log, options.Environment, "ecr-login")
        {
            _client = client;
            _options = options;
            _repository = repository;
        }

        /// <summary>The repository as ECR describes it.</summary>
        public EcrRepository Repository => _repository;

        /// <summary>Builds the store for the engine from <see cref="CacheOptions"/>, with the default credential chain.</summary>
        public static async Task<EcrStore> CreateAsync(CacheOptions options, DockerCli docker, IProcessRunner runner, IBuildLog log, CancellationToken cancellationToken)
        {
            var settings = EcrSettings.Resolve(options.EcrRegion, options.EcrEndpoint, options.Environment);
            var credentials = new DefaultAwsCredentialSource(options.Environment);
            var client = new EcrClient(settings, credentials, log);
            var storeOptions = new EcrStoreOptions
            {
                Repository = options.Repository,
                MaxAgeDays = options.EcrMaxAgeDays,
                KeepCount = options.KeepCount,
                RegistryOverride = options.Registry,
                RegistryInsecure = options.RegistryInsecure,
                Environment = options.Environment,
                Tags = options.EcrTags.ToList(),
                PullAccounts = options.EcrPullAccounts.ToList(),
                ReadOnly = !options.Push,
            };
            try
            {
                return await CreateAsync(client, storeOptions, docker, runner, log, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                client.Dispose();
                throw;
            }
        }

        /// <summary>
        /// Resolves (and creates or tags) the repository and returns the store, which owns <paramref name="client"/>
        /// from then on.
        /// </summary>
        public static async Task<EcrStore> CreateAsync(IEcrClient client, EcrStoreOptions options, DockerCli docker, IProcessRunner runner, IBuildLog log, CancellationToken cancellationToken)
        {
            if (!EcrOptionsParser.IsValidRepositoryName(options.Repository))
            {
                throw new EcrCacheException(DiagnosticIds.EcrInvalidRepositoryName, options.Repository, "ECR allows 2-256 characters, and no '__' or '--'");
            }

            var tags = options.Tags.ToList();
            var region = client.Settings.Region;
            log.Detail("ECR region " + region + " (from " + client.Settings.RegionSource + "), API " + client.Settings.Endpoint + " (" + client.Settings.EndpointSource + ").");
            var repository = await client.DescribeRepositoryAsync(options.Repository, cancellationToken).ConfigureAwait(false);
            if (options.ReadOnly)
            {
                repository ??= await UncreatedRepositoryAsync(client, options, log, cancellationToken).ConfigureAwait(false);
            }
            else if (repository == null)
            {
                repository = await client.CreateRepositoryAsync(options.Repository, tags, cancellationToken).ConfigureAwait(false);
                if (repository != null)
                {
                    log.Info("Created ECR repository " + repository.Uri + (tags.Count > 0 ? " with tags " + string.Join(", ", tags.Select(t => t.Key)) : string.Empty) + ".");
                }
                else
                {
                    // Another build created it between our two calls.
                    repository = await client.DescribeRepositoryAsync(options.Repository, cancellationToken).ConfigureAwait(false)
                        ?? throw new EcrCacheException(DiagnosticIds.EcrRequestFailed, "DescribeRepositories", region, 200, "RepositoryNotFoundException", "the repository '" + options.Repository + "' was reported as existing but could not be described");
                    await ApplyTagsAsync(client, repository, tags, log, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                await ApplyTagsAsync(client, repository, tags, log, cancellationToken).ConfigureAwait(false);
            }

            var registryHost = string.IsNullOrEmpty(options.RegistryOverride) ? repository.Host : options.RegistryOverride!;
            return new EcrStore(client, options, docker, runner, log, repository, registryHost) { ReadOnly = options.ReadOnly };
        }

        /// <summary>
        /// A read-only run does not create the repository: its name is the registry of the caller's account (from the
        /// authorization token) and the repository name; every lookup in it is a miss.
        /// </summary>
        private static async Task<EcrRepository> UncreatedRepositoryAsync(IEcrClient client, EcrStoreOptions options, IBuildLog log, CancellationToken cancellationToken)
        {
            var authorization = await client.GetAuthorizationTokenAsync(cancellationToken).ConfigureAwait(false);
            var host = authorization.ProxyEndpoint.Replace("https://", "").Replace("http://", "").TrimEnd('/');
            var account = host.Split('.')[0];
            log.Info("The ECR repository " + options.Repository + " does not exist; EcrCachePush=false does not create it, so this is a miss.");
            return new EcrRepository(options.Repository, "", account, host + "/" + options.Repository);
        }

        protected override async Task PrepareRepositoryAsync(CancellationToken cancellationToken)
        {
            await EnsureLifecyclePolicyAsync(cancellationToken).ConfigureAwait(false);
            await EnsurePullAccountsAsync(cancellationToken).ConfigureAwait(false);
        }

        protected override async Task<IRegistryCredentialProvider> LogInWithTokenAsync(DockerConfig config, CancellationToken cancellationToken)
        {
            var authorization = await _client.GetAuthorizationTokenAsync(cancellationToken).ConfigureAwait(false);
            var privateConfig = PrivateDockerConfig.Create(config.Path, RegistryHost, authorization.Username, authorization.Password, _options.PrivateConfigParent);
            Session.UsePrivateConfig(privateConfig);
            Log.Detail("Logged docker in to " + RegistryHost + " with an ECR authorization token, in the private DOCKER_CONFIG " + privateConfig.Directory + " (removed at the end of this build).");
            return new StaticCredentialProvider(RegistryHost, RegistryCredential.Basic(authorization.Username, authorization.Password), "ECR GetAuthorizationToken (" + _client.Settings.Region + ")");
        }

        protected override void DisposeClient() => _client.Dispose();

        private static async Task ApplyTagsAsync(IEcrClient client, EcrRepository repository, IReadOnlyList<KeyValuePair<string, string>> tags, IBuildLog log, CancellationToken cancellationToken)
        {
            if (tags.Count == 0)
            {
                return;
            }

            await client.TagResourceAsync(repository.Arn, repository.Name, tags, cancellationToken).ConfigureAwait(false);
            log.Detail("Tagged ECR repository " + repository.Name + " with " + string.Join(", ", tags.Select(t => t.Key)) + ".");
        }

        private async Task EnsureLifecyclePolicyAsync(CancellationToken cancellationToken)
        {
            var days = _options.MaxAgeDays;
            var keep = _options.KeepCount;
            if (days <= 0 && keep <= 0)
            {
                Log.Detail("EcrCacheMaxAgeDays=0: the lifecycle policy of " + _repository.Name + " is left alone.");
                return;
            }

            var what = (keep > 0 ? "the newest " + keep + " images are kept" : "")
                + (keep > 0 && days > 0 ? " and " : "")
                + (days > 0 ? "images expire " + days + " days after push" : "");
            try
            {
                var current = await _client.GetLifecyclePolicyAsync(_repository.Name, _repository.RegistryId, cancellationToken).ConfigureAwait(false);
                if (EcrPolicies.LifecyclePolicyMatches(current, days, keep))
                {
                    Log.Detail("The lifecycle policy of " + _repository.Name + " is up to date: " + what + ".");
                    return;
                }

                await _client.PutLifecyclePolicyAsync(_repository.Name, _repository.RegistryId, EcrPolicies.LifecyclePolicy(days, keep), cancellationToken).ConfigureAwait(false);
                Log.Info("Set the lifecycle policy of ECR repository " + _repository.Name + ": " + what + ".");
            }
            catch (EcrCacheException ex)
            {
                // The cache works without expiry; say so loudly instead of failing the build (or staying silent).
                Log.Warning(Diagnostic.Create(DiagnosticIds.EcrLifecyclePolicyFailed, _repository.Name, days, ex.Diagnostic.ToString()));
            }
        }

        private async Task EnsurePullAccountsAsync(CancellationToken cancellationToken)
        {
            if (_options.PullAccounts.Count == 0)
            {
                return;
            }

            var accounts = string.Join(", ", _options.PullAccounts);
            try
            {
                var current = await _client.GetRepositoryPolicyAsync(_repository.Name, _repository.RegistryId, cancellationToken).ConfigureAwait(false);
                var desired = EcrPolicies.RepositoryPolicyWithPullAccounts(current, _options.PullAccounts.ToList(), _client.Settings.Region);
                if (desired == null)
                {
                    Log.Detail("The repository policy of " + _repository.Name + " already lets " + accounts + " pull.");
                    return;
                }

                await _client.SetRepositoryPolicyAsync(_repository.Name, _repository.RegistryId, desired, cancellationToken).ConfigureAwait(false);
                Log.Info("Set the repository policy of ECR repository " + _repository.Name + ": accounts " + accounts + " may pull.");
            }
            catch (EcrCacheException ex)
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.EcrRepositoryPolicyFailed, _repository.Name, accounts, ex.Diagnostic.ToString()), ex);
            }
        }
    }
}
