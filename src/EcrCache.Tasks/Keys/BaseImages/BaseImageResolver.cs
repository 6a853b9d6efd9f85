using System.Diagnostics;
using System.Text.Json;
using EcrCache.Keys.Dockerfiles;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;

namespace EcrCache.Keys.BaseImages
{
    /// <summary>EcrCacheBaseImageDigests.</summary>
    internal enum BaseImageDigestMode
    {
        /// <summary>false: base images enter the key only through the Dockerfile text.</summary>
        Off,

        /// <summary>true (default): every external base image is resolved to its digest; failure is an error.</summary>
        On,

        /// <summary>BestEffort: as On, but an image that cannot be resolved is keyed on its name, with a warning.</summary>
        BestEffort,
    }

    /// <summary>How one base image entered the key.</summary>
    /// <param name="Name">The key entry name: the normalised reference and the platform, e.g. <c>docker.io/library/node:20 linux/amd64</c>.</param>
    /// <param name="Value">The key entry value: <c>sha256:...</c>, <c>image-id sha256:...</c> or <c>unresolved</c>.</param>
    /// <param name="Source">registry, cache, pinned, local or unresolved.</param>
    internal sealed record ResolvedBaseImage(string Name, string Value, string Source)
    {
        public const string FromRegistry = "registry";
        public const string FromCache = "cache";
        public const string Pinned = "pinned";
        public const string LocalImage = "local";
        public const string Unresolved = "unresolved";
        public const string LastKey = "last-key";

        /// <summary>True when the value is a digest a registry gave (now or within the cache window).</summary>
        internal bool IsRegistryDigest => Source == FromRegistry || Source == FromCache;

        /// <summary>The image as resolved (null for entries taken from the last key).</summary>
        internal ImageReference? Reference { get; set; }

        /// <summary>The platform it was keyed for (normalised; empty when unknown).</summary>
        internal string Platform { get; set; } = "";

        public override string ToString() => Name + " " + Value + " (" + Source + ")";
    }

    /// <summary>
    /// Resolves the external images of a Dockerfile's FROM lines to digests with one manifest HEAD per image: the key
    /// holds the digest the registry gives for the tag (for a multi-platform image, the index's; the platform is a
    /// key entry of its own). Docker Hub counts manifest GETs as pulls and HEADs not, so a GET is made only where a
    /// registry sends no Docker-Content-Digest on HEAD. docker.io images go through the registry mirrors first
    /// (<see cref="RegistryMirrors"/>), in order, then Docker Hub, as dockerd pulls them; a mirror that fails or lacks
    /// the image falls through to the next. Token auth and docker-config credentials (per host: a mirror gets its own,
    /// never Docker Hub's) come from <see cref="RegistryClient"/>. Pinned <c>@sha256:</c> references, stage names and
    /// scratch need no request; answers are cached in <see cref="BaseImageDigestCache"/>. When the registry cannot
    /// answer but the daemon has the image (a base built or loaded locally), its local image id is keyed: that is what
    /// docker builds from. Whether an index has the build platform is only checked after a build failed
    /// (<see cref="FindMissingPlatformAsync"/>): that costs a GET, which the hot path never spends.
    /// </summary>
    internal sealed class BaseImageResolver : IDisposable
    {
        /// <summary>Cache marker: the registry could not answer but the daemon had the image (re-checked locally).</summary>
        internal const string NotInRegistry = "not-in-registry";

        private readonly IBuildLog _log;
        private readonly IRegistryCredentialProvider _credentials;
        private readonly Func<string, CancellationToken, Task<string?>>? _localImageId;
        private readonly HttpMessageHandler? _handler;
        private readonly Func<CancellationToken, Task<IReadOnlyList<RegistryEndpoint>>>? _dockerHubMirrors;
        private readonly Dictionary<string, RegistryClient> _clients = new Dictionary<string, RegistryClient>(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _resolvedThisRun = new Dictionary<string, string>(StringComparer.Ordinal);
        private readonly Stopwatch _requestTime = new Stopwatch();
        private IReadOnlyList<RegistryEndpoint>? _mirrors;
        private int _manifestHeads;
        private int _manifestGets;

        /// <param name="localImageId">Returns the local image id of an image as written in the Dockerfile, or null (docker image inspect).</param>
        /// <param name="dockerHubMirrors">The mirrors for docker.io images, asked at most once and only when a docker.io image needs a request.</param>
        public BaseImageResolver(
            IBuildLog log,
            IRegistryCredentialProvider credentials,
            Func<string, CancellationToken, Task<string?>>? localImageId,
            HttpMessageHandler? handler = null,
            Func<CancellationToken, Task<IReadOnlyList<RegistryEndpoint>>>? dockerHubMirrors = null)
        {
            _log = log;
            _credentials = credentials;
            _localImageId = localImageId;
            _handler = handler;
            _dockerHubMirrors = dockerHubMirrors;
        }

        /// <summary>Offline only: values of base-image entries of the last computed key, by entry name (used when the cache has none).</summary>
        public IDictionary<string, string> OfflineFallback { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

        /// <summary>Images looked up in a registry (each costs one HEAD per registry asked), for logs and tests.</summary>
        public int RegistryLookups { get; private set; }

        /// <summary>Manifest HEAD requests sent (mirrors included).</summary>
        public int ManifestHeads => _manifestHeads;

        /// <summary>Manifest GET requests sent: only for registries that give no digest on HEAD, or to diagnose a failed build.</summary>
        public int ManifestGets => _manifestGets;

        /// <summary>Time spent in registry requests.</summary>
        public TimeSpan RequestTime => _requestTime.Elapsed;

        /// <summary>
        /// The key entries for the external images of <paramref name="froms"/>, one per (image, platform), sorted by name.
        /// <paramref name="platforms"/> are the platforms being built (a FROM with --platform uses its own).
        /// With <paramref name="offline"/> nothing is asked (cache of any age, else unresolved).
        /// </summary>
        public async Task<IReadOnlyList<ResolvedBaseImage>> ResolveAsync(
            IReadOnlyList<FromInstruction> froms,
            IReadOnlyList<string> platforms,
            BaseImageDigestMode mode,
            BaseImageDigestCache? cache,
            bool offline,
            CancellationToken cancellationToken)
        {
            var result = new Dictionary<string, ResolvedBaseImage>(StringComparer.Ordinal);
            if (mode == BaseImageDigestMode.Off)
            {
                return new List<ResolvedBaseImage>();
            }

            foreach (var from in froms)
            {
                if (!from.IsExternalImage)
                {
                    continue;
                }

                if (!ImageReference.TryParse(from.Image, out var reference))
                {
                    throw new EcrCacheException(from.Locate(Diagnostic.Create(DiagnosticIds.BaseImageBadReference, from.Image, from.Line)));
                }

                var wanted = from.Platform != null ? new[] { NormalizePlatform(from.Platform) } : platforms.Select(NormalizePlatform).ToArray();
                foreach (var platform in wanted)
                {
                    var name = reference!.ToString() + " " + (platform.Length == 0 ? "unknown" : platform);
                    if (result.ContainsKey(name))
                    {
                        continue;
                    }

                    var resolved = await ResolveOneAsync(name, from, reference, mode, cache, offline, cancellationToken).ConfigureAwait(false);
                    resolved.Reference = reference;
                    resolved.Platform = platform;
                    result[name] = resolved;
                }
            }

            cache?.Save();
            return result.Values.OrderBy(r => r.Name, StringComparer.Ordinal).ToList();
        }

        private async Task<ResolvedBaseImage> ResolveOneAsync(string name, FromInstruction from, ImageReference reference, BaseImageDigestMode mode, BaseImageDigestCache? cache, bool offline, CancellationToken cancellationToken)
        {
            if (reference.Digest != null)
            {
                return new ResolvedBaseImage(name, reference.Digest, ResolvedBaseImage.Pinned);
            }

            var key = reference.ToString();
            if (_resolvedThisRun.TryGetValue(key, out var known))
            {
                // Another platform of the same tag: the tag's digest is the same, so is the answer.
                return new ResolvedBaseImage(name, known, ResolvedBaseImage.FromRegistry);
            }

            if (cache != null && cache.TryGet(key, offline, out var cached, out _))
            {
                if (cached != NotInRegistry)
                {
                    return new ResolvedBaseImage(name, cached, ResolvedBaseImage.FromCache);
                }

                // The registry had no answer a moment ago and the daemon had the image: ask the daemon only (one
                // inspect instead of a registry round trip on every no-op build). Its id is never cached.
                if (!offline && _localImageId != null)
                {
                    var localId = await _localImageId(from.Image, cancellationToken).ConfigureAwait(false);
                    if (!string.IsNullOrEmpty(localId))
                    {
                        return new ResolvedBaseImage(name, "image-id " + localId, ResolvedBaseImage.LocalImage);
                    }
                }
            }

            if (offline && OfflineFallback.TryGetValue(name, out var last))
            {
                return new ResolvedBaseImage(name, last, ResolvedBaseImage.LastKey);
            }

            if (offline)
            {
                return new ResolvedBaseImage(name, ResolvedBaseImage.Unresolved, ResolvedBaseImage.Unresolved);
            }

            EcrCacheException? failure = null;
            string? digest = null;
            try
            {
                digest = await LookUpAsync(reference, cancellationToken).ConfigureAwait(false);
            }
            catch (EcrCacheException ex)
            {
                failure = ex;
            }

            if (digest != null)
            {
                cache?.Set(key, digest);
                _resolvedThisRun[key] = digest;
                _log.Detail("Base image " + key + ": " + digest + ".");
                return new ResolvedBaseImage(name, digest, ResolvedBaseImage.FromRegistry);
            }

            if (_localImageId != null)
            {
                var id = await _localImageId(from.Image, cancellationToken).ConfigureAwait(false);
                if (!string.IsNullOrEmpty(id))
                {
                    _log.Info("EcrCache: the registry of base image " + from.Image + " did not answer (" + failure!.Diagnostic.Code + "), but the Docker daemon has it: keying on its local image id " + id + ".");
                    cache?.Set(key, NotInRegistry);
                    return new ResolvedBaseImage(name, "image-id " + id, ResolvedBaseImage.LocalImage);
                }
            }

            if (mode == BaseImageDigestMode.BestEffort)
            {
                _log.Warning(Diagnostic.Create(DiagnosticIds.BaseImageUnresolvedBestEffort, from.Image, failure!.Diagnostic.ToString()));
                return new ResolvedBaseImage(name, ResolvedBaseImage.Unresolved, ResolvedBaseImage.Unresolved);
            }

            throw new EcrCacheException(from.Locate(Diagnostic.Create(DiagnosticIds.BaseImageUnresolved, from.Image, from.Line, failure!.Diagnostic.ToString())), failure);
        }

        /// <summary>
        /// The tag's digest from the first registry that answers: for docker.io the mirrors in order, then Docker Hub.
        /// One HEAD per registry asked; a GET only when a registry gives no digest on HEAD.
        /// </summary>
        private async Task<string> LookUpAsync(ImageReference reference, CancellationToken cancellationToken)
        {
            RegistryLookups++;
            var mirrorFailures = new List<string>();
            foreach (var (client, isMirror) in await EndpointsAsync(reference, cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    Interlocked.Increment(ref _manifestHeads);
                    var head = await TimedAsync(() => client.HeadManifestOnlyAsync(reference.Path, reference.Reference, cancellationToken)).ConfigureAwait(false);
                    if (head == null)
                    {
                        throw client.NotFound(reference.Path, reference.Reference);
                    }

                    if (head.Digest.Length > 0)
                    {
                        return head.Digest;
                    }

                    _log.Detail("Registry " + client.Endpoint.Host + " sent no Docker-Content-Digest on HEAD for " + reference + "; fetching the manifest to hash it.");
                    Interlocked.Increment(ref _manifestGets);
                    var (_, body, digest) = await TimedAsync(() => client.GetManifestAsync(reference.Path, reference.Reference, cancellationToken)).ConfigureAwait(false);
                    return digest ?? RegistryClient.ComputeDigest(body);
                }
                catch (EcrCacheException ex) when (isMirror)
                {
                    _log.Detail("Registry mirror " + client.Endpoint.BaseUri + " could not answer for " + reference + " (" + ex.Diagnostic + "); trying the next.");
                    mirrorFailures.Add(client.Endpoint.BaseUri + ": " + ex.Diagnostic.Code);
                }
                catch (EcrCacheException ex) when (mirrorFailures.Count > 0)
                {
                    var text = ex.Diagnostic.Message + " Registry mirrors asked first: " + string.Join("; ", mirrorFailures) + ".";
                    throw new EcrCacheException(new Diagnostic(ex.Diagnostic.Code, text), ex);
                }
            }

            throw new InvalidOperationException("no registry to ask"); // EndpointsAsync always ends with the image's own registry
        }

        /// <summary>
        /// After a failed build: the first registry-resolved base image whose index has no manifest for its platform,
        /// as ECRC1113 (one GET per multi-platform base image; never on the hot path), or null.
        /// </summary>
        public async Task<EcrCacheException?> FindMissingPlatformAsync(IReadOnlyList<ResolvedBaseImage> images, CancellationToken cancellationToken)
        {
            foreach (var image in images)
            {
                if (image.Reference == null || image.Platform.Length == 0 || !image.IsRegistryDigest)
                {
                    continue;
                }

                byte[]? body = null;
                string mediaType = "";
                foreach (var (client, isMirror) in await EndpointsAsync(image.Reference, cancellationToken).ConfigureAwait(false))
                {
                    try
                    {
                        Interlocked.Increment(ref _manifestGets);
                        (mediaType, body, _) = await TimedAsync(() => client.GetManifestAsync(image.Reference.Path, image.Reference.Reference, cancellationToken)).ConfigureAwait(false);
                        break;
                    }
                    catch (EcrCacheException ex)
                    {
                        _log.Detail("Could not fetch " + image.Reference + " from " + client.Endpoint.Host + " to check its platforms: " + ex.Diagnostic);
                        if (!isMirror)
                        {
                            break;
                        }
                    }
                }

                if (body == null || !(ManifestMediaTypes.IsIndex(mediaType) || (mediaType.Length == 0 && LooksLikeIndex(body))))
                {
                    continue;
                }

                if (PickPlatform(body, image.Platform) == null)
                {
                    return new EcrCacheException(DiagnosticIds.BaseImagePlatformMissing, image.Reference.ToString(), image.Platform, string.Join(", ", ListPlatforms(body)));
                }
            }

            return null;
        }

        private async Task<T> TimedAsync<T>(Func<Task<T>> request)
        {
            lock (_requestTime)
            {
                _requestTime.Start();
            }

            try
            {
                return await request().ConfigureAwait(false);
            }
            finally
            {
                lock (_requestTime)
                {
                    _requestTime.Stop();
                }
            }
        }

        private async Task<IReadOnlyList<(RegistryClient Client, bool IsMirror)>> EndpointsAsync(ImageReference reference, CancellationToken cancellationToken)
        {
            var list = new List<(RegistryClient, bool)>();
            if (reference.Domain == ImageReference.DockerHubDomain && _dockerHubMirrors != null)
            {
                _mirrors ??= await _dockerHubMirrors(cancellationToken).ConfigureAwait(false);
                foreach (var mirror in _mirrors)
                {
                    list.Add((Client(mirror, isMirror: true), true));
                }
            }

            list.Add((Client(RegistryEndpoint.Parse(reference.ApiHost), isMirror: false), false));
            return list;
        }

        private RegistryClient Client(RegistryEndpoint endpoint, bool isMirror)
        {
            lock (_clients)
            {
                var id = endpoint.BaseUri.ToString();
                if (!_clients.TryGetValue(id, out var client))
                {
                    client = new RegistryClient(endpoint, _credentials, _log, _handler, isMirror ? RegistryMirrors.RetryPolicy : null);
                    if (isMirror)
                    {
                        client.Timeout = RegistryMirrors.RequestTimeout;
                    }

                    _clients.Add(id, client);
                }

                return client;
            }
        }

        /// <summary>os/arch[/variant] in lower case; <c>linux/arm64/v8</c> is <c>linux/arm64</c> (as containerd does).</summary>
        public static string NormalizePlatform(string platform)
        {
            var p = (platform ?? "").Trim().ToLowerInvariant();
            if (p == "linux/arm64/v8")
            {
                return "linux/arm64";
            }

            if (p == "linux/amd64/v1")
            {
                return "linux/amd64";
            }

            return p;
        }

        private static bool LooksLikeIndex(byte[] body)
        {
            try
            {
                using var doc = JsonDocument.Parse(body);
                return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("manifests", out _);
            }
            catch (JsonException)
            {
                return false;
            }
        }

        /// <summary>The digest of the index entry for <paramref name="platform"/> (os/arch[/variant]), or null.</summary>
        internal static string? PickPlatform(byte[] indexBody, string platform)
        {
            var parts = NormalizePlatform(platform).Split('/');
            var os = parts[0];
            var arch = parts.Length > 1 ? parts[1] : "";
            var variant = parts.Length > 2 ? parts[2] : null;
            string? fallback = null;
            using var doc = JsonDocument.Parse(indexBody);
            if (!doc.RootElement.TryGetProperty("manifests", out var manifests) || manifests.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            foreach (var m in manifests.EnumerateArray())
            {
                if (!m.TryGetProperty("platform", out var p) || p.ValueKind != JsonValueKind.Object || !m.TryGetProperty("digest", out var d))
                {
                    continue;
                }

                var mOs = Get(p, "os");
                var mArch = Get(p, "architecture");
                var mVariant = Get(p, "variant");
                if (mOs != os || mArch != arch)
                {
                    continue;
                }

                if (variant != null ? mVariant == variant : (mVariant.Length == 0 || (arch == "arm64" && mVariant == "v8")))
                {
                    return d.GetString();
                }

                // linux/arm without a variant: take the first arm entry (as docker pull would on that machine).
                fallback ??= variant == null ? d.GetString() : null;
            }

            return fallback;
        }

        private static IEnumerable<string> ListPlatforms(byte[] indexBody)
        {
            var list = new List<string>();
            using var doc = JsonDocument.Parse(indexBody);
            if (doc.RootElement.TryGetProperty("manifests", out var manifests) && manifests.ValueKind == JsonValueKind.Array)
            {
                foreach (var m in manifests.EnumerateArray())
                {
                    if (m.TryGetProperty("platform", out var p) && p.ValueKind == JsonValueKind.Object)
                    {
                        var v = Get(p, "variant");
                        list.Add(Get(p, "os") + "/" + Get(p, "architecture") + (v.Length > 0 ? "/" + v : ""));
                    }
                }
            }

            return list;
        }

        private static string Get(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : "";

        public void Dispose()
        {
            foreach (var client in _clients.Values)
            {
                client.Dispose();
            }

            _clients.Clear();
        }
    }
}
