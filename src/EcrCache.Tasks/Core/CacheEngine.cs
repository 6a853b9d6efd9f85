using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using EcrCache.Diagnostics;
using EcrCache.Docker;
using EcrCache.Exports;
using EcrCache.IO;
using EcrCache.Keys;
using EcrCache.Keys.BaseImages;
using EcrCache.Keys.Explain;
using EcrCache.Logging;
using EcrCache.Processes;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;
using EcrCache.Stores;
using EcrCache.Stores.Local;
using EcrCache.Stores.Registry;

namespace EcrCache.Core
{
    /// <summary>
    /// The whole EnsureCachedImage job: key, resolve the store, hit or miss, export. No MSBuild types: the task is a
    /// thin shell around this class, and a command-line entry point could drive it the same way.
    /// </summary>
    internal sealed class CacheEngine
    {
        public const string KeyFileName = "key.txt";
        public const string ManifestFileName = "key-manifest.json";
        public const string StampFileName = "ensured.json";

        private readonly CacheOptions _options;
        private readonly IBuildLog _log;
        private readonly IProcessRunner _runner;
        private readonly DockerCli _docker;
        private IReadOnlyList<ResolvedBaseImage> _baseImages = new List<ResolvedBaseImage>();

        public CacheEngine(CacheOptions options, IBuildLog log, IProcessRunner? runner = null)
        {
            _options = options;
            _log = log;
            _runner = runner ?? ProcessRunner.Instance;
            _docker = new DockerCli(options.DockerPath, _runner, log) { Retries = options.DockerRetries, DaemonEnvironment = options.Environment };
        }

        /// <summary>Factory for the store; replaced by later providers and by tests.</summary>
        public Func<CacheOptions, DockerCli, IBuildLog, IImageStore>? StoreFactory { get; set; }

        /// <summary>Computes the key (asks the daemon for its platform) and writes key.txt and key-manifest.json.</summary>
        public async Task<CacheKey> ComputeKeyAsync(CancellationToken cancellationToken)
        {
            var version = await _docker.GetVersionAsync(cancellationToken).ConfigureAwait(false);
            return await ComputeAndWriteKeyAsync(version.Platform, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>ExplainCachedImageKey: prints the manifest and the changes since the last ensured key; no docker, no network.</summary>
        public Task<CacheKey> ExplainAsync(CancellationToken cancellationToken) => KeyExplainer.ExplainAsync(_options, _log, cancellationToken);

        public async Task<CacheResult> EnsureAsync(CancellationToken cancellationToken)
        {
            var total = Stopwatch.StartNew();
            var phase = Stopwatch.StartNew();

            // The daemon's platform enters the key. The no-op path trusts the platform that the last successful run
            // saw on the same daemon, and the image name it resolved for the same store settings (for ECR the repository
            // URI), so a local hit costs exactly one 'docker image inspect' (which also proves the daemon is up and checks
            // the image's platform): no docker version, no store, no registry or AWS call. With the input stamp
            // (KeyStage) unchanged inputs are not hashed either. Anything else asks 'docker version' first.
            DockerVersionInfo? version = null;
            await MultiPlatformBuild.CheckAsync(_options, _docker, cancellationToken).ConfigureAwait(false);
            var storeIdentity = EnsuredStamp.StoreIdentity(_options);
            var ensured = EnsuredStamp.Read(_options.IntermediateDirectory, DaemonIdentity(), storeIdentity, _log.Detail);
            var platform = ensured.Platform;
            if (platform == null)
            {
                version = await _docker.GetVersionAsync(cancellationToken).ConfigureAwait(false);
                platform = version.Platform;
            }

            var key = await ComputeAndWriteKeyAsync(platform, cancellationToken).ConfigureAwait(false);
            _log.Detail($"Key {key.Hash} computed in {phase.ElapsedMilliseconds} ms ({_options.CacheOn.Count} CacheOn files, platform {platform}).");

            using var stores = new LazyStore(() => CreateStore(cancellationToken));
            var image = ensured.Image ?? stores.Get().Image;
            var reference = image + ":" + key.Tag;
            string result;

            phase.Restart();
            var localPlatform = await _docker.GetImagePlatformAsync(reference, cancellationToken).ConfigureAwait(false);
            if (version == null && _options.Platform == null && !string.Equals(localPlatform, platform, StringComparison.Ordinal))
            {
                version = await _docker.GetVersionAsync(cancellationToken).ConfigureAwait(false);
                if (!string.Equals(version.Platform, platform, StringComparison.Ordinal))
                {
                    platform = version.Platform;
                    key = await ComputeAndWriteKeyAsync(platform, cancellationToken).ConfigureAwait(false);
                    reference = image + ":" + key.Tag;
                    localPlatform = await _docker.GetImagePlatformAsync(reference, cancellationToken).ConfigureAwait(false);
                }
            }

            if (localPlatform == null && !stores.Created)
            {
                // Not a local hit: resolve the store now (the image name in the stamp may be out of date).
                if (!string.Equals(stores.Get().Image, image, StringComparison.Ordinal))
                {
                    image = stores.Get().Image;
                    reference = image + ":" + key.Tag;
                    localPlatform = await _docker.GetImagePlatformAsync(reference, cancellationToken).ConfigureAwait(false);
                }
            }

            if (localPlatform != null)
            {
                result = CacheResult.HitLocal;
                _log.Detail($"{reference} is in the local daemon ({phase.ElapsedMilliseconds} ms); no registry call needed.");
            }
            else
            {
                var store = stores.Get();
                version ??= await _docker.GetVersionAsync(cancellationToken).ConfigureAwait(false);
                await store.PrepareAsync(cancellationToken).ConfigureAwait(false);
                var exists = store.HasRemote && await store.ExistsAsync(key.Tag, cancellationToken).ConfigureAwait(false);
                _log.Detail($"Looked up {key.Tag} in {store.Description}: {(exists ? "found" : "not found")} ({phase.ElapsedMilliseconds} ms).");
                result = CacheResult.HitNotPulled;
                if (exists && !_options.SkipPull)
                {
                    phase.Restart();
                    _log.Info($"Cache hit in {store.Description}: pulling {reference}");
                    try
                    {
                        await store.FetchAsync(key.Tag, cancellationToken).ConfigureAwait(false);
                        _log.Detail($"Pulled in {phase.ElapsedMilliseconds} ms.");
                        result = CacheResult.HitPulled;
                    }
                    catch (StoreEntryUnusableException ex)
                    {
                        // A truncated or corrupt tarball: rebuild as on a miss; publishing replaces the entry.
                        _log.Warning(ex.Diagnostic);
                        exists = false;
                    }
                }

                if (!exists)
                {
                    // One build per key (docs/reliability.md): wait for a build of the same image elsewhere, then
                    // use its result; otherwise hold the lock and lease until pushed (released in Dispose).
                    using var turn = await new Leases.BuildCoordinator(_options.LeaseTimeout, _log, _options.Environment)
                        .AcquireAsync(reference, key.Tag, (store as Leases.ILeaseCapableStore)?.LeaseBackend, ct => RecheckAsync(store, reference, key.Tag, ct), cancellationToken)
                        .ConfigureAwait(false);
                    result = turn.OtherResult ?? await BuildAndPublishAsync(store, version, reference, key, phase, cancellationToken).ConfigureAwait(false);
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            var cacheResult = new CacheResult(image, key.Tag, result, key);
            ensured.Write(cacheResult, platform, DaemonIdentity(), storeIdentity);
            var previousManifest = Path.Combine(_options.IntermediateDirectory, MissExplanation.PreviousManifestFileName);
            if (!(result == CacheResult.HitLocal && ensured.Key == key.Hash && File.Exists(previousManifest)))
            {
                // The same key as the last ensured one has the same manifest: a no-op neither reads nor writes it.
                AtomicFile.WriteAllTextIfDifferent(previousManifest, key.Manifest.ToJson());
            }

            var tarballStore = stores.Created || _options.Provider == ProviderKind.S3 || _options.Provider == ProviderKind.Directory
                ? stores.Get() as Stores.Tarballs.ITarballStore
                : null;
            await ExportAsync(cacheResult, tarballStore?.MetaDataValue(key.Tag), cancellationToken).ConfigureAwait(false);
            _log.Important($"EcrCache: {cacheResult.Reference} ({result}) in {total.Elapsed.TotalSeconds:0.00} s");
            return cacheResult;
        }

        private async Task<CacheKey> ComputeAndWriteKeyAsync(string platform, CancellationToken cancellationToken)
        {
            // EcrCachePlatform replaces the daemon's platform in the key; base images resolve for the keyed platform(s).
            _baseImages = await BaseImageKeyInputs.ResolveAsync(_options, platform, _runner, _docker, _log, offline: false, cancellationToken).ConfigureAwait(false);
            var inputs = KeyInputsFactory.Create(_options, _options.Platform ?? platform, _baseImages);

            // Unchanged inputs (the input stamp, base-image digests included) are not hashed again; see KeyStage.
            try
            {
                return KeyStage.Compute(inputs, _options.IntermediateDirectory, _options.CacheOnStats, _log, cancellationToken);
            }
            finally
            {
                // The parser's stats describe the files when the options were parsed: good for this run only. Options
                // used again (another engine, a later run) stat the files afresh.
                _options.CacheOnStats.Clear();
            }
        }

        private IImageStore CreateStore(CancellationToken cancellationToken)
        {
            if (StoreFactory != null)
            {
                return StoreFactory(_options, _docker, _log);
            }

            switch (_options.Provider)
            {
                case ProviderKind.Ecr:
                    // Resolving the repository (and creating it) names the image, which the local lookup needs first.
                    return Stores.Ecr.EcrStore.CreateAsync(_options, _docker, _runner, _log, cancellationToken).GetAwaiter().GetResult();
                case ProviderKind.Gar:
                case ProviderKind.Gcr:
                    return Stores.Gar.GarStore.Create(_options, _docker, _runner, _log);
                case ProviderKind.S3:
                    return Stores.Tarballs.S3.S3TarballStore.Create(_options, _docker, _log);
                case ProviderKind.Directory:
                    return Stores.Tarballs.DirectoryTarballStore.Create(_options, _docker, _log);
                case ProviderKind.Registry:
                    var endpoint = RegistryEndpoint.Parse(_options.Registry!, _options.RegistryInsecure);
                    var config = DockerConfig.Load(_options.Environment, System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile));
                    var credentials = new DockerConfigCredentialProvider(config, _runner, _options.Environment, _log);
                    return new OciRegistryStore(endpoint, _options.Repository, _docker, credentials, _log);
                default:
                    return new LocalDaemonStore(_options.Repository, _docker);
            }
        }

        /// <summary>The miss: build, then publish (untagging on a failed push so the next run retries it).</summary>
        private async Task<string> BuildAndPublishAsync(IImageStore store, DockerVersionInfo version, string reference, CacheKey key, Stopwatch phase, CancellationToken cancellationToken)
        {
            var tag = key.Tag;
            phase.Restart();
            _log.Info($"Cache miss for {reference}: building.");
            LogMissReasons(key);
            await BuildAsync(version, reference, store, cancellationToken).ConfigureAwait(false);
            _log.Detail($"Built in {phase.ElapsedMilliseconds} ms.");
            phase.Restart();
            try
            {
                if (!_options.IsMultiPlatform)
                {
                    await store.PublishAsync(tag, _options.PushLatest, cancellationToken).ConfigureAwait(false);
                }
            }
            catch when (store.HasRemote)
            {
                // The local image:tag would make the next run a local hit that never pushes. Untag it so a
                // failed or cancelled push is retried; the layers stay in the daemon's build cache.
                await UntagAsync(reference).ConfigureAwait(false);
                throw;
            }

            if (store.HasRemote)
            {
                _log.Detail($"Pushed in {phase.ElapsedMilliseconds} ms.");
            }

            return CacheResult.Built;
        }

        /// <summary>
        /// After waiting for another build of the same image: is it there now? For a remote store only the store counts
        /// (a local tag may belong to a push still in flight); for the local daemon, the local image.
        /// </summary>
        private async Task<string?> RecheckAsync(IImageStore store, string reference, string tag, CancellationToken cancellationToken)
        {
            if (!store.HasRemote)
            {
                return await _docker.GetImagePlatformAsync(reference, cancellationToken).ConfigureAwait(false) != null ? CacheResult.HitLocal : null;
            }

            if (!await store.ExistsAsync(tag, cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            if (_options.SkipPull)
            {
                return CacheResult.HitNotPulled;
            }

            _log.Info($"The other build published {reference}: pulling it.");
            await store.FetchAsync(tag, cancellationToken).ConfigureAwait(false);
            return CacheResult.HitPulled;
        }

        private async Task BuildAsync(DockerVersionInfo version, string reference, IImageStore store, CancellationToken cancellationToken)
        {
            var mode = await _docker.SelectBuilderAsync(version, BuildKitReason(), cancellationToken).ConfigureAwait(false);
            var request = CreateBuildRequest(reference);
            try
            {
                if (_options.IsMultiPlatform)
                {
                    // buildx pushes the multi-platform image itself (it cannot be loaded into the daemon).
                    await MultiPlatformBuild.BuildAndPushAsync(_options, _docker, request, store, _options.PushLatest, cancellationToken).ConfigureAwait(false);
                    return;
                }

                await LayerCache.AddAsync(_options, _docker, store, mode, request, _log, cancellationToken).ConfigureAwait(false);
                await _docker.BuildAsync(request, mode, cancellationToken).ConfigureAwait(false);
            }
            catch (EcrCacheException ex) when (!cancellationToken.IsCancellationRequested)
            {
                // The key was computed from HEADs only, which cannot tell whether an index has the build platform.
                // Only now, with the build failed, is a manifest GET worth it to name that cause.
                var missing = await BaseImageKeyInputs.FindMissingPlatformAsync(_options, _baseImages, _runner, _docker, _log, cancellationToken).ConfigureAwait(false);
                if (missing != null)
                {
                    throw new EcrCacheException(missing.Diagnostic, ex);
                }

                throw;
            }
        }

        private DockerBuildRequest CreateBuildRequest(string reference)
        {
            var request = new DockerBuildRequest
            {
                ContextDirectory = _options.ContextDirectory,
                DockerfilePath = _options.DockerfilePath,
                DockerfileText = _options.DockerfileInline,
                Target = _options.Target,
                Platform = _options.Platform,
            };
            request.Tags.Add(reference);
            foreach (var arg in _options.BuildArgs)
            {
                request.BuildArgs.Add(arg);
            }

            if (BaseImageKeyInputs.AllFromRegistry(_baseImages))
            {
                // Build from the base images that were keyed, not from stale local copies (the legacy builder
                // does not look at the registry by itself).
                request.AdditionalArguments.Add("--pull");
            }

            foreach (var secret in _options.Secrets)
            {
                request.SecretSpecs.Add(secret.Spec);
                if (secret.EnvironmentVariable != null)
                {
                    request.SecretEnvironment[secret.EnvironmentVariable] = _options.Environment(secret.EnvironmentVariable) ?? "";
                }
            }

            foreach (var word in _options.AdditionalBuildArgList)
            {
                request.AdditionalArguments.Add(word);
            }

            return request;
        }

        /// <summary>On a miss: which inputs changed since the last key ensured from this project (normal importance).</summary>
        private void LogMissReasons(CacheKey key)
        {
            var previous = MissExplanation.ReadPrevious(_options.IntermediateDirectory);
            if (previous == null)
            {
                _log.Info("EcrCache: no earlier key from this project to compare with (first run here, or obj/ was cleaned); -t:ExplainCachedImageKey lists every input.");
                return;
            }

            var lines = MissExplanation.Describe(previous, key.Manifest);
            if (lines.Count == 0)
            {
                _log.Info("EcrCache: the inputs are those of the last key ensured from this project (" + new CacheKey(previous).Tag + "), but the store no longer has that image (expired or deleted).");
                return;
            }

            _log.Info("EcrCache: the key changed since the last one ensured from this project (" + new CacheKey(previous).Tag + "):");
            foreach (var line in lines)
            {
                _log.Info("  - " + line);
            }
        }

        private async Task UntagAsync(string reference)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                var result = await _docker.RunAsync(new[] { "image", "rm", "--no-prune", reference }, timeout.Token).ConfigureAwait(false);
                _log.Detail(result.ExitCode == 0
                    ? "Removed the local tag " + reference + " because it was not published."
                    : "Could not remove the local tag " + reference + ": " + result.StandardError.Trim());
            }
            catch (Exception ex) when (ex is OperationCanceledException || ex is EcrCacheException)
            {
                _log.Detail("Could not remove the local tag " + reference + ": " + ex.Message);
            }
        }

        /// <summary>Why this build cannot run on the legacy builder, or null when it can.</summary>
        internal string? BuildKitReason()
        {
            if (_options.Secrets.Count > 0)
            {
                return "DockerSecret items are set";
            }

            if (_options.AdditionalBuildArgList.Any(a => a.StartsWith("--secret", StringComparison.Ordinal) || a.StartsWith("--ssh", StringComparison.Ordinal)))
            {
                return "EcrCacheAdditionalBuildArgs uses --secret or --ssh";
            }

            var text = _options.DockerfileInline ?? (_options.DockerfilePath != null ? File.ReadAllText(_options.DockerfilePath) : "");
            if (Regex.IsMatch(text, @"^\s*RUN\s+(--\S+\s+)*--mount", RegexOptions.Multiline | RegexOptions.IgnoreCase))
            {
                return "the Dockerfile uses RUN --mount";
            }

            if (Regex.IsMatch(text, @"^#\s*syntax\s*=", RegexOptions.Multiline | RegexOptions.IgnoreCase))
            {
                return "the Dockerfile has a # syntax= directive";
            }

            return null;
        }

        /// <summary>Which daemon the docker CLI talks to: the stamped platform is only trusted for the same one.</summary>
        private string DaemonIdentity() =>
            _options.DockerPath + "|" + (_options.Environment("DOCKER_HOST") ?? "") + "|" + (_options.Environment("DOCKER_CONTEXT") ?? "");

        private async Task ExportAsync(CacheResult result, string? metaDataValue, CancellationToken cancellationToken)
        {
            var variables = ImageExports.Variables(_options.ExportEnvVariable, result.Image, result.Tag);
            EnvFileWriter.Write(_options.EnvFile, variables);
            _log.Detail("Wrote " + _options.EnvFile);
            var powerShellFile = EnvFileWriter.PowerShellPath(_options.EnvFile);
            EnvFileWriter.WritePowerShell(powerShellFile, variables);
            _log.Detail("Wrote " + powerShellFile);

            var jobApi = BuildkiteJobApi.FromEnvironment(_options.Environment);
            if (jobApi != null)
            {
                try
                {
                    await jobApi.SetEnvAsync(variables.ToDictionary(p => p.Key, p => p.Value), cancellationToken).ConfigureAwait(false);
                    _log.Info("Exported " + string.Join(", ", variables.Select(v => v.Key)) + " to the Buildkite job through the Job API.");
                }
                catch (EcrCacheException ex)
                {
                    _log.Warning(ex.Diagnostic);
                }
            }
            else
            {
                _log.Detail(BuildkiteJobApi.DescribeAbsence(_options.Environment));
            }

            if (_options.MetadataKey != null)
            {
                var metaData = new BuildkiteMetaData(_runner, _options.BuildkiteAgentPath) { Timeout = _options.MetadataTimeout };
                var value = metaDataValue ?? result.Reference;
                await metaData.SetAsync(_options.MetadataKey, value, cancellationToken).ConfigureAwait(false);
                _log.Info($"Set Buildkite meta-data {_options.MetadataKey}={value}");
            }
        }
    }
}
