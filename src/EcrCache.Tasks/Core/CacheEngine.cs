using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using EcrCache.Docker;
using EcrCache.Exports;
using EcrCache.IO;
using EcrCache.Keys;
using EcrCache.Keys.BaseImages;
using EcrCache.Keys.Explain;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;
using EcrCache.Stores;
using EcrCache.Stores.Local;
using EcrCache.Stores.Registry;

namespace EcrCache.Core
{
    /// <summary>
    /// The whole EnsureCachedImage job as four steps (key, store, pull or build, export), one method each, which the step
    /// tasks call in order on one instance; <see cref="EnsureAsync"/> runs them all. No MSBuild types: the tasks are thin
    /// shells around this class, and a command-line entry point could drive it the same way.
    /// </summary>
    internal sealed class CacheEngine : IDisposable
    {
        public const string KeyFileName = "key.txt";
        public const string ManifestFileName = "key-manifest.json";
        public const string StampFileName = "ensured.json";

        private readonly CacheOptions _options;
        private readonly RelayBuildLog _log;
        private readonly IProcessRunner _runner;
        private readonly DockerCli _docker;
        private IReadOnlyList<ResolvedBaseImage> _baseImages = new List<ResolvedBaseImage>();

        // What one step leaves to the next (the tasks share this engine through the build's task-object registry).
        private Stopwatch? _total;
        private EnsuredStamp? _ensured;
        private string? _platform;
        private DockerVersionInfo? _version;
        private CacheKey? _key;
        private string? _storeIdentity;
        private LazyStore? _stores;
        private string? _image;
        private CacheResult? _result;
        private string? _metaDataValue;
        private readonly List<KeyValuePair<string, TimeSpan>> _phases = new List<KeyValuePair<string, TimeSpan>>();

        // The running step's token: the store is created lazily, possibly in a later step than the one that set it up.
        private CancellationToken _stepCancellation;

        public CacheEngine(CacheOptions options, IBuildLog log, IProcessRunner? runner = null)
        {
            _options = options;
            _log = new RelayBuildLog(log);
            _runner = runner ?? ProcessRunner.Instance;
            _docker = new DockerCli(options.DockerPath, _runner, _log) { Retries = options.DockerRetries, DaemonEnvironment = options.Environment, Progress = options.Progress, BuildkiteLogGroups = options.BuildkiteLogGroups };
        }

        /// <summary>Where everything this engine and what it created logs: the running step's log.</summary>
        public IBuildLog Log
        {
            get => _log.Target;
            set => _log.Target = value;
        }

        /// <summary>The options, all parsed before the first step.</summary>
        public CacheOptions Options => _options;

        public void Dispose()
        {
            _stores?.Dispose();
            _stores = null;
        }

        /// <summary>Factory for the store; replaced by later providers and by tests.</summary>
        public Func<CacheOptions, DockerCli, IBuildLog, IImageStore>? StoreFactory { get; set; }

        /// <summary>The key step on its own: asks the daemon for its platform, writes key.txt and key-manifest.json.</summary>
        public Task<CacheKey> ComputeKeyAsync(CancellationToken cancellationToken) =>
            ComputeKeyStepAsync(trustEnsuredPlatform: false, cancellationToken);

        /// <summary>
        /// ExplainCachedImageKey: prints the manifest and the changes since the last ensured key; no docker, no network,
        /// unless EcrCacheExplainImage names an image whose labels are to be read and compared.
        /// </summary>
        public async Task<CacheKey> ExplainAsync(CancellationToken cancellationToken)
        {
            _key = await KeyExplainer.ExplainAsync(_options, _log, cancellationToken).ConfigureAwait(false);
            if (_options.ExplainImage != null)
            {
                // EcrCacheExplainImage: the one case where explaining asks docker, and a registry, something.
                await ImageExplainer.ExplainAsync(_options, _key, _docker, _runner, _log, cancellationToken).ConfigureAwait(false);
            }

            return _key;
        }

        /// <summary>The whole job in one call, as the four step targets run it: key, store, pull or build, export.</summary>
        public async Task<CacheResult> EnsureAsync(CancellationToken cancellationToken)
        {
            await ComputeKeyStepAsync(trustEnsuredPlatform: true, cancellationToken).ConfigureAwait(false);
            await ResolveStoreStepAsync(cancellationToken).ConfigureAwait(false);
            var result = await PullOrBuildStepAsync(cancellationToken).ConfigureAwait(false);
            await ExportStepAsync(cancellationToken).ConfigureAwait(false);
            return result;
        }

        /// <summary>The key computed by the key step (null before it ran).</summary>
        public CacheKey? Key => _key;

        /// <summary>The image name (repository reference without tag) from the store step (null before it ran).</summary>
        public string? Image => _image;

        /// <summary>The registry host that holds the image; null for the local daemon and the tarball stores.</summary>
        public string? RegistryHost =>
            _image == null || _options.Provider == ProviderKind.Local || _options.Provider == ProviderKind.S3 || _options.Provider == ProviderKind.Directory
                ? null
                : _image.Split('/')[0];

        /// <summary>What the pull-or-build step made sure of (null before it ran).</summary>
        public CacheResult? Result => _result;

        /// <summary>
        /// ComputeCachedImageKey. The daemon's platform enters the key. With <paramref name="trustEnsuredPlatform"/> the
        /// platform that the last successful run saw on the same daemon is used, so that a no-op asks nothing remote:
        /// PullOrBuildCachedImage checks it against the local image and computes the key again in the rare case the
        /// daemon changed platform. Without it (the step on its own), 'docker version' is asked. With the input stamp
        /// (KeyStage) unchanged inputs are not hashed either.
        /// </summary>
        public async Task<CacheKey> ComputeKeyStepAsync(bool trustEnsuredPlatform, CancellationToken cancellationToken)
        {
            _stepCancellation = cancellationToken;
            _total = Stopwatch.StartNew();
            var phase = Stopwatch.StartNew();
            _ensured = EnsuredStamp.Read(_options.IntermediateDirectory, DaemonIdentity(), _log.Detail);
            _platform = trustEnsuredPlatform ? _ensured.Platform : null;
            if (_platform == null)
            {
                _version = await _docker.GetVersionAsync(cancellationToken).ConfigureAwait(false);
                _platform = _version.Platform;
            }

            _key = await ComputeAndWriteKeyAsync(_platform, cancellationToken).ConfigureAwait(false);
            _phases.Clear();
            Phase("key", phase);
            _log.Detail($"Key {_key.Hash} computed in {phase.ElapsedMilliseconds} ms ({_options.CacheOn.Count} CacheOn files, platform {_platform}).");
            return _key;
        }

        /// <summary>
        /// ResolveCachedImageStore: the image name. A local hit does not need the store itself: the name the last run
        /// resolved for the same store settings (for ECR the repository URI) is taken from the stamp, and the store is
        /// created only when a later step needs it (for ECR that is DescribeRepositories, for a registry the docker config).
        /// </summary>
        public async Task<string> ResolveStoreStepAsync(CancellationToken cancellationToken)
        {
            _stepCancellation = cancellationToken;
            RequireStep(_key != null, "ResolveCachedImageStore", "ComputeCachedImageKey");
            await MultiPlatformBuild.CheckAsync(_options, _docker, cancellationToken).ConfigureAwait(false);
            _storeIdentity = EnsuredStamp.StoreIdentity(_options);
            _stores?.Dispose();
            _stores = new LazyStore(() => CreateStore(_stepCancellation));
            _image = _ensured!.ImageFor(_storeIdentity) ?? _stores.Get().Image;
            return _image;
        }

        /// <summary>
        /// PullOrBuildCachedImage: a local hit costs exactly one 'docker image inspect' (which also proves the daemon is
        /// up and checks the image's platform); otherwise the store is looked up, and the image pulled on a hit or built
        /// and published on a miss, one build per key. The store is released at the end of this step.
        /// </summary>
        public async Task<CacheResult> PullOrBuildStepAsync(CancellationToken cancellationToken)
        {
            _stepCancellation = cancellationToken;
            RequireStep(_image != null && _stores != null, "PullOrBuildCachedImage", "ResolveCachedImageStore");
            var stores = _stores!;
            try
            {
                _result = await PullOrBuildAsync(stores, cancellationToken).ConfigureAwait(false);
                var tarballStore = stores.Created || _options.Provider == ProviderKind.S3 || _options.Provider == ProviderKind.Directory
                    ? stores.Get() as Stores.Tarballs.ITarballStore
                    : null;
                // A read-only miss stored no object: the meta-data names the local image, not an s3:// URI that is not there.
                _metaDataValue = _result.Result == CacheResult.BuiltNotPushed ? null : tarballStore?.MetaDataValue(_result.Tag);
                return _result;
            }
            finally
            {
                stores.Dispose();
                _stores = null;
            }
        }

        /// <summary>ExportCachedImage: the env files (rewritten only when they change), the Job API and the meta-data.</summary>
        public async Task ExportStepAsync(CancellationToken cancellationToken)
        {
            _stepCancellation = cancellationToken;
            RequireStep(_result != null, "ExportCachedImage", "PullOrBuildCachedImage");
            await ExportAsync(_result!, _metaDataValue, cancellationToken).ConfigureAwait(false);
            var phases = string.Join(", ", _phases.Select(p => p.Key + " " + p.Value.TotalSeconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + " s"));
            _log.Important($"EcrCache: {_result!.Reference} ({_result.Result}) in {(_total ?? Stopwatch.StartNew()).Elapsed.TotalSeconds:0.00} s" + (phases.Length == 0 ? "" : ": " + phases));
        }

        private static void RequireStep(bool done, string caller, string step)
        {
            if (!done)
            {
                throw new EcrCacheException(DiagnosticIds.PipelineStepMissing, caller, step);
            }
        }

        private async Task<CacheResult> PullOrBuildAsync(LazyStore stores, CancellationToken cancellationToken)
        {
            var phase = Stopwatch.StartNew();
            var key = _key!;
            var platform = _platform!;
            var version = _version;
            var image = _image!;
            var reference = image + ":" + key.Tag;
            string result;

            var localPlatform = await _docker.GetImagePlatformAsync(reference, cancellationToken).ConfigureAwait(false);
            if (version == null && _options.Platform == null && !string.Equals(localPlatform, platform, StringComparison.Ordinal))
            {
                // The platform came from the stamp: make sure the daemon still has it before keying a build with it.
                version = _version = await _docker.GetVersionAsync(cancellationToken).ConfigureAwait(false);
                if (!string.Equals(version.Platform, platform, StringComparison.Ordinal))
                {
                    platform = _platform = version.Platform;
                    key = _key = await ComputeAndWriteKeyAsync(platform, cancellationToken).ConfigureAwait(false);
                    reference = image + ":" + key.Tag;
                    localPlatform = await _docker.GetImagePlatformAsync(reference, cancellationToken).ConfigureAwait(false);
                }
            }

            if (localPlatform != null && _options.Push && _options.Provider != ProviderKind.Local
                && _ensured!.Key == key.Hash && _ensured.Result == CacheResult.BuiltNotPushed)
            {
                // This daemon's image:tag was built by a read-only run (a pull request, perhaps from a fork): never
                // publish it, and do not let it hide that the store lacks the image. Look the store up as on a miss;
                // a miss builds (from the daemon's layer cache) and pushes.
                _log.Info($"{reference} in the local daemon was built by a run with EcrCachePush=false; looking up the store instead of using it.");
                localPlatform = null;
            }

            if (localPlatform == null && !stores.Created)
            {
                // Not a local hit: resolve the store now (the image name in the stamp may be out of date).
                if (!string.Equals(stores.Get().Image, image, StringComparison.Ordinal))
                {
                    image = _image = stores.Get().Image;
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
                version ??= _version = await _docker.GetVersionAsync(cancellationToken).ConfigureAwait(false);
                await store.PrepareAsync(cancellationToken).ConfigureAwait(false);
                var exists = store.HasRemote && await store.ExistsAsync(key.Tag, cancellationToken).ConfigureAwait(false);
                _log.Detail($"Looked up {key.Tag} in {store.Description}: {(exists ? "found" : "not found")} ({phase.ElapsedMilliseconds} ms).");
                Phase("lookup", phase);
                result = CacheResult.HitNotPulled;
                if (exists && !_options.SkipPull)
                {
                    phase.Restart();
                    Decision($"Cache hit in {store.Description}: pulling {reference}");
                    try
                    {
                        await store.FetchAsync(key.Tag, cancellationToken).ConfigureAwait(false);
                        _log.Detail($"Pulled in {phase.ElapsedMilliseconds} ms.");
                        Phase("pull", phase);
                        result = CacheResult.HitPulled;
                    }
                    catch (StoreEntryUnusableException ex)
                    {
                        // A truncated or corrupt tarball: rebuild as on a miss; publishing replaces the entry.
                        _log.Warning(ex.Diagnostic);
                        exists = false;
                    }
                }

                if (!exists && _options.RequireHit)
                {
                    throw new EcrCacheException(DiagnosticIds.RequireHitMiss, store.Description, store.HasRemote ? "the tag " + key.Tag + " (" + reference + ")" : reference);
                }

                if (!exists && !_options.Push)
                {
                    // A read-only run (pull requests from forks): build and use the image, write nothing to the
                    // store, so no lease either (nobody waits for a push that never comes).
                    result = await BuildOnlyAsync(store, version, reference, key, phase, cancellationToken).ConfigureAwait(false);
                }
                else if (!exists)
                {
                    // One build per key (docs/reliability.md): wait for a build of the same image elsewhere, then
                    // use its result; otherwise hold the lock and lease until pushed (released in Dispose).
                    result = await BuildUnderLeaseAsync(store, version, reference, key, phase, cancellationToken).ConfigureAwait(false);
                }
            }

            await ApplyImageTagsAsync(stores, key.Tag, result, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            var cacheResult = new CacheResult(image, key.Tag, result, key);
            var ensured = _ensured!;
            ensured.Write(cacheResult, platform, DaemonIdentity(), _storeIdentity);
            var previousManifest = Path.Combine(_options.IntermediateDirectory, MissExplanation.PreviousManifestFileName);
            if (!(result == CacheResult.HitLocal && ensured.Key == key.Hash && File.Exists(previousManifest)))
            {
                // The same key as the last ensured one has the same manifest: a no-op neither reads nor writes it.
                AtomicFile.WriteAllTextIfDifferent(previousManifest, key.Manifest.ToJson());
            }

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
                    var gar = Stores.Gar.GarStore.Create(_options, _docker, _runner, _log);
                    gar.ReadOnly = !_options.Push;
                    return gar;
                case ProviderKind.S3:
                    return Stores.Tarballs.S3.S3TarballStore.Create(_options, _docker, _log);
                case ProviderKind.Directory:
                    return Stores.Tarballs.DirectoryTarballStore.Create(_options, _docker, _log);
                case ProviderKind.Registry:
                    var endpoint = RegistryEndpoint.Parse(_options.Registry!, _options.RegistryInsecure);
                    var config = DockerConfig.Load(_options.Environment, System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile));
                    var credentials = new DockerConfigCredentialProvider(config, _runner, _options.Environment, _log);
                    return new OciRegistryStore(endpoint, _options.Repository, _docker, credentials, _log)
                    {
                        Prune = _options.RegistryPrune ? new RegistryPruneSettings(_options.KeepCount, _options.RegistryPruneMaxAgeDays, _options.RegistryPruneGrace) : null,
                        // Pruning never deletes a tag the project names (a branch tag points at a recent key).
                        ProtectedTags = _options.ImageTags,
                    };
                default:
                    return new LocalDaemonStore(_options.Repository, _docker);
            }
        }

        /// <summary>
        /// The miss under the lock and lease: build and publish, or use the result of a build elsewhere. A registry
        /// lease is confirmed while the build runs (BuildTurn.Confirmation); a race found lost stops the build (and
        /// its push), and this build then waits for the winner's image like any other waiter.
        /// </summary>
        private async Task<string> BuildUnderLeaseAsync(IImageStore store, DockerVersionInfo version, string reference, CacheKey key, Stopwatch phase, CancellationToken cancellationToken)
        {
            var coordinator = new Leases.BuildCoordinator(_options.LeaseTimeout, _log, _options.Environment) { LeaseTtl = _options.LeaseTtl, RenewInterval = _options.LeaseRenewInterval };
            while (true)
            {
                using var turn = await coordinator
                    .AcquireAsync(reference, key.Tag, (store as Leases.ILeaseCapableStore)?.LeaseBackend, ct => RecheckAsync(store, reference, key.Tag, ct), cancellationToken)
                    .ConfigureAwait(false);
                if (turn.OtherResult != null)
                {
                    return turn.OtherResult;
                }

                var confirmed = turn.ConfirmedAsync();
                using var lost = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                _ = CancelWhenLostAsync(confirmed, lost);
                var lostRace = new Func<bool>(() => !cancellationToken.IsCancellationRequested && LostLease(confirmed));
                try
                {
                    var built = await BuildAndPublishAsync(store, version, reference, key, phase, confirmed, lost.Token).ConfigureAwait(false);
                    if (built != null)
                    {
                        return built;
                    }
                }
                catch (Exception) when (lostRace())
                {
                    // The build was stopped because another builder holds the lease: wait for its image below.
                }
            }
        }

        private static bool LostLease(Task<bool> confirmed) => confirmed.Status == TaskStatus.RanToCompletion && !confirmed.Result;

        private static async Task CancelWhenLostAsync(Task<bool> confirmed, CancellationTokenSource lost)
        {
            try
            {
                if (!await confirmed.ConfigureAwait(false))
                {
                    lost.Cancel();
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException || ex is ObjectDisposedException)
            {
                // The step was cancelled, or it ended before the check did: nothing left to stop.
            }
        }

        /// <summary>
        /// The miss: build, then publish (untagging on a failed push so the next run retries it). Null when
        /// <paramref name="leaseConfirmed"/> said, before the push, that another builder won the lease.
        /// </summary>
        private async Task<string?> BuildAndPublishAsync(IImageStore store, DockerVersionInfo version, string reference, CacheKey key, Stopwatch phase, Task<bool> leaseConfirmed, CancellationToken cancellationToken)
        {
            var tag = key.Tag;
            phase.Restart();
            var why = LogMissReasons(key);
            Decision($"Cache miss for {reference} ({why}): building.");
            if (_options.IsMultiPlatform && !await leaseConfirmed.ConfigureAwait(false))
            {
                // buildx pushes while it builds: it may only start once the lease is known to be ours.
                return null;
            }

            await BuildAsync(version, reference, store, cancellationToken).ConfigureAwait(false);
            _log.Detail($"Built in {phase.ElapsedMilliseconds} ms.");
            Phase("build", phase);
            if (LostLease(leaseConfirmed))
            {
                return null;
            }

            // A build shorter than the settle delay pushes without waiting for the read-back: if the race turns out
            // lost, the winner pushes an image of the same inputs under the same tag after this one. Waiting would
            // add the rest of the delay to every short miss to save a push in the rare lost race.

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
                Phase("push", phase);
            }

            return CacheResult.Built;
        }

        /// <summary>EcrCachePush=false on a miss: build and use the image; the store, latest and the extra tags stay as they are.</summary>
        private async Task<string> BuildOnlyAsync(IImageStore store, DockerVersionInfo version, string reference, CacheKey key, Stopwatch phase, CancellationToken cancellationToken)
        {
            phase.Restart();
            var why = LogMissReasons(key);
            Decision($"Cache miss for {reference} ({why}): building (EcrCachePush=false: nothing is written to {store.Description}).");
            await BuildAsync(version, reference, store, cancellationToken).ConfigureAwait(false);
            _log.Detail($"Built in {phase.ElapsedMilliseconds} ms; not pushed.");
            Phase("build", phase);
            return CacheResult.BuiltNotPushed;
        }

        /// <summary>
        /// ImageTag items: after a push and on every hit (a local one too, so a branch tag follows the branch), each extra
        /// tag is pointed at the key tag's image in the store. Never with EcrCachePush=false.
        /// </summary>
        private async Task ApplyImageTagsAsync(LazyStore stores, string tag, string result, CancellationToken cancellationToken)
        {
            if (_options.ImageTags.Count == 0)
            {
                return;
            }

            if (!_options.Push)
            {
                _log.Detail("EcrCachePush=false: the ImageTag tags " + string.Join(", ", _options.ImageTags) + " are not written.");
                return;
            }

            var store = stores.Get();
            await store.PrepareAsync(cancellationToken).ConfigureAwait(false);
            var phase = Stopwatch.StartNew();
            await store.TagAsync(tag, _options.ImageTags, cancellationToken).ConfigureAwait(false);
            _log.Detail($"ImageTag {string.Join(", ", _options.ImageTags)} point at {tag} in {store.Description} ({result}, {phase.ElapsedMilliseconds} ms).");
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
            var labels = await ImageLabels.ForBuildAsync(_key!, _options.ContextDirectory, _options.Environment, _runner, _log, DateTime.UtcNow, cancellationToken).ConfigureAwait(false);
            var position = 0;
            foreach (var word in ImageLabels.Arguments(labels))
            {
                // Before the user's own arguments, so a --label of theirs wins.
                request.AdditionalArguments.Insert(position++, word);
            }

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

        /// <summary>
        /// On a miss: which inputs changed since the last key ensured from this project (normal importance); returns the
        /// short reason for the decision line.
        /// </summary>
        private string LogMissReasons(CacheKey key)
        {
            var previous = MissExplanation.ReadPrevious(_options.IntermediateDirectory);
            if (previous == null)
            {
                _log.Info("EcrCache: no earlier key from this project to compare with (first run here, or obj/ was cleaned); -t:ExplainCachedImageKey lists every input.");
                return "no earlier key here";
            }

            var lines = MissExplanation.Describe(previous, key.Manifest);
            if (lines.Count == 0)
            {
                _log.Info("EcrCache: the inputs are those of the last key ensured from this project (" + new CacheKey(previous).Tag + "), but the store no longer has that image (expired or deleted).");
                return "the store no longer has the last key's image";
            }

            _log.Info("EcrCache: the key changed since the last one ensured from this project (" + new CacheKey(previous).Tag + "):");
            foreach (var line in lines)
            {
                _log.Info("  - " + line);
            }

            return lines.Count == 1 ? lines[0] : lines[0] + " and " + (lines.Count - 1) + " more";
        }

        /// <summary>Records how long a phase took, for the result line.</summary>
        private void Phase(string name, Stopwatch phase) => _phases.Add(new KeyValuePair<string, TimeSpan>(name, phase.Elapsed));

        /// <summary>The cache decision: one line at the default verbosity unless EcrCacheProgress=quiet.</summary>
        private void Decision(string line)
        {
            if (_options.Progress == ProgressMode.Quiet)
            {
                _log.Info(line);
            }
            else
            {
                _log.Important("EcrCache: " + line);
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
            var powerShellFile = EnvFileWriter.PowerShellPath(_options.EnvFile);
            _log.Detail((EnvFileWriter.Write(_options.EnvFile, variables) ? "Wrote " : "Unchanged: ") + _options.EnvFile);
            _log.Detail((EnvFileWriter.WritePowerShell(powerShellFile, variables) ? "Wrote " : "Unchanged: ") + powerShellFile);

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
