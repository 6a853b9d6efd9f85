namespace EcrCache.Diagnostics
{
    /// <summary>Names of the diagnostics in Strings.resx (the resource name, not the code).</summary>
    public static class DiagnosticIds
    {
        public const string DockerfileMissing = nameof(DockerfileMissing);
        public const string DockerfileAndInline = nameof(DockerfileAndInline);
        public const string BadBuildArgName = nameof(BadBuildArgName);
        public const string BuildArgUnset = nameof(BuildArgUnset);
        public const string SecretEnvUnset = nameof(SecretEnvUnset);
        public const string SecretFileMissing = nameof(SecretFileMissing);
        public const string BadSecretSpec = nameof(BadSecretSpec);
        public const string UnknownProvider = nameof(UnknownProvider);
        public const string RegistryRequired = nameof(RegistryRequired);
        public const string BadRepositoryName = nameof(BadRepositoryName);
        public const string BadBoolean = nameof(BadBoolean);
        public const string ContextMissing = nameof(ContextMissing);
        public const string BadRegistryHost = nameof(BadRegistryHost);
        public const string DuplicateBuildArg = nameof(DuplicateBuildArg);
        public const string BadExportVariable = nameof(BadExportVariable);
        public const string BadAdditionalArgs = nameof(BadAdditionalArgs);
        public const string AdditionalArgsForbidden = nameof(AdditionalArgsForbidden);
        public const string JsonPathNotFound = nameof(JsonPathNotFound);
        public const string JsonInvalid = nameof(JsonInvalid);
        public const string BadJsonPath = nameof(BadJsonPath);
        public const string CacheOnNoMatch = nameof(CacheOnNoMatch);
        public const string CacheOnFileMissing = nameof(CacheOnFileMissing);
        public const string CacheOnEmpty = nameof(CacheOnEmpty);
        public const string CacheOnReadFailed = nameof(CacheOnReadFailed);
        public const string CacheOnPathCollision = nameof(CacheOnPathCollision);
        public const string DockerfileReadFailed = nameof(DockerfileReadFailed);
        public const string DockerNotFound = nameof(DockerNotFound);
        public const string DaemonNotRunning = nameof(DaemonNotRunning);
        public const string BuildKitUnavailable = nameof(BuildKitUnavailable);
        public const string DockerBuildFailed = nameof(DockerBuildFailed);
        public const string DockerPushFailed = nameof(DockerPushFailed);
        public const string DockerPullFailed = nameof(DockerPullFailed);
        public const string DockerCommandFailed = nameof(DockerCommandFailed);
        public const string DockerTagFailed = nameof(DockerTagFailed);
        public const string RegistryUnreachable = nameof(RegistryUnreachable);
        public const string RegistryAuthRefused = nameof(RegistryAuthRefused);
        public const string RegistryUnexpectedStatus = nameof(RegistryUnexpectedStatus);
        public const string CredentialHelperFailed = nameof(CredentialHelperFailed);
        public const string DockerConfigInvalid = nameof(DockerConfigInvalid);
        public const string RegistryNotOciV2 = nameof(RegistryNotOciV2);
        public const string EnvFileWriteFailed = nameof(EnvFileWriteFailed);
        public const string JobApiFailed = nameof(JobApiFailed);
        public const string MetaDataFailed = nameof(MetaDataFailed);
        public const string JobApiUnsupported = nameof(JobApiUnsupported);
        // ECR provider (ECRC15xx).
        public const string EcrCredentialsMissing = nameof(EcrCredentialsMissing);
        public const string EcrCredentialsRejected = nameof(EcrCredentialsRejected);
        public const string EcrAccessDenied = nameof(EcrAccessDenied);
        public const string EcrInvalidRepositoryName = nameof(EcrInvalidRepositoryName);
        public const string EcrThrottled = nameof(EcrThrottled);
        public const string EcrUnreachable = nameof(EcrUnreachable);
        public const string EcrRequestFailed = nameof(EcrRequestFailed);
        public const string EcrLifecyclePolicyFailed = nameof(EcrLifecyclePolicyFailed);
        public const string EcrRepositoryPolicyFailed = nameof(EcrRepositoryPolicyFailed);
        public const string BadEcrMaxAgeDays = nameof(BadEcrMaxAgeDays);
        public const string BadEcrPullAccount = nameof(BadEcrPullAccount);
        public const string BadEcrRegion = nameof(BadEcrRegion);
        public const string BadEcrEndpoint = nameof(BadEcrEndpoint);
        public const string BadEcrTag = nameof(BadEcrTag);
        public const string EcrAuthorizationTokenInvalid = nameof(EcrAuthorizationTokenInvalid);
        public const string EcrDockerConfigWriteFailed = nameof(EcrDockerConfigWriteFailed);
        // Base images, platforms, layer cache, Compose (issue 6: ECRC1020-1039, ECRC1110-1149, ECRC1210-1219).
        public const string BadPlatform = nameof(BadPlatform);
        public const string BadBaseImageDigests = nameof(BadBaseImageDigests);
        public const string BadCacheFrom = nameof(BadCacheFrom);
        public const string BadBaseImageCacheMinutes = nameof(BadBaseImageCacheMinutes);
        public const string ComposeFileInvalid = nameof(ComposeFileInvalid);
        public const string ComposeServiceMissing = nameof(ComposeServiceMissing);
        public const string ComposeConflict = nameof(ComposeConflict);
        public const string ComposeBuildInvalid = nameof(ComposeBuildInvalid);
        public const string ComposeServiceRequired = nameof(ComposeServiceRequired);
        public const string DockerfileFromInvalid = nameof(DockerfileFromInvalid);
        public const string BaseImageUnresolved = nameof(BaseImageUnresolved);
        public const string BaseImageUnresolvedBestEffort = nameof(BaseImageUnresolvedBestEffort);
        public const string BaseImagePlatformMissing = nameof(BaseImagePlatformMissing);
        public const string BaseImageBadReference = nameof(BaseImageBadReference);
        public const string BuildxRequired = nameof(BuildxRequired);
        public const string MultiPlatformNeedsRegistry = nameof(MultiPlatformNeedsRegistry);
        public const string CacheFromUnavailable = nameof(CacheFromUnavailable);
        public const string Cancelled = nameof(Cancelled);
        public const string UnexpectedError = nameof(UnexpectedError);
    }
}
