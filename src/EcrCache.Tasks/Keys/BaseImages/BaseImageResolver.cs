using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.Http;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using EcrCache.Diagnostics;
using EcrCache.Keys.Dockerfiles;
using EcrCache.Logging;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;

namespace EcrCache.Keys.BaseImages
{
    /// <summary>EcrCacheBaseImageDigests.</summary>
    public enum BaseImageDigestMode
    {
        /// <summary>false: base images enter the key only through the Dockerfile text.</summary>
        Off,

        /// <summary>true (default): every external base image is resolved to its digest; failure is an error.</summary>
        On,

        /// <summary>BestEffort: as On, but an image that cannot be resolved is keyed on its name, with a warning.</summary>
        BestEffort,
    }

    /// <summary>How one base image entered the key.</summary>
    public sealed class ResolvedBaseImage
    {
        public const string FromRegistry = "registry";
        public const string FromCache = "cache";
        public const string Pinned = "pinned";
        public const string LocalImage = "local";
        public const string Unresolved = "unresolved";
        public const string LastKey = "last-key";

        public ResolvedBaseImage(string name, string value, string source)
        {
            Name = name;
            Value = value;
            Source = source;
        }

        /// <summary>The key entry name: the normalised reference and the platform, e.g. <c>docker.io/library/node:20 linux/amd64</c>.</summary>
        public string Name { get; }

        /// <summary>The key entry value: <c>sha256:...</c>, <c>image-id sha256:...</c> or <c>unresolved</c>.</summary>
        public string Value { get; }

        /// <summary>registry, cache, pinned, local or unresolved.</summary>
        public string Source { get; }

        public override string ToString() => Name + " " + Value + " (" + Source + ")";
    }

    /// <summary>
    /// Resolves the external images of a Dockerfile's FROM lines to manifest digests for the build platform: one
    /// manifest GET per image (token auth and docker-config credentials through <see cref="RegistryClient"/>); for an
    /// index, the digest of the platform's manifest is keyed, so a new architecture elsewhere keeps the key. Pinned
    /// <c>@sha256:</c> references, stage names and scratch need no request; answers are cached in
    /// <see cref="BaseImageDigestCache"/>. When the registry cannot answer but the daemon has the image (a base built
    /// or loaded locally), its local image id is keyed: that is what docker builds from.
    /// </summary>
    public sealed class BaseImageResolver : IDisposable
    {
        /// <summary>Cache marker: the registry could not answer but the daemon had the image (re-checked locally).</summary>
        internal const string NotInRegistry = "not-in-registry";

        private readonly IBuildLog _log;
        private readonly IRegistryCredentialProvider _credentials;
        private readonly Func<string, CancellationToken, Task<string?>>? _localImageId;
        private readonly HttpMessageHandler? _handler;
        private readonly Dictionary<string, RegistryClient> _clients = new Dictionary<string, RegistryClient>(StringComparer.Ordinal);

        /// <param name="localImageId">Returns the local image id of an image as written in the Dockerfile, or null (docker image inspect).</param>
        public BaseImageResolver(IBuildLog log, IRegistryCredentialProvider credentials, Func<string, CancellationToken, Task<string?>>? localImageId, HttpMessageHandler? handler = null)
        {
            _log = log;
            _credentials = credentials;
            _localImageId = localImageId;
            _handler = handler;
        }

        /// <summary>Offline only: values of base-image entries of the last computed key, by entry name (used when the cache has none).</summary>
        public IDictionary<string, string> OfflineFallback { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

        /// <summary>Registry requests made (manifest GETs), for logs and tests.</summary>
        public int RegistryLookups { get; private set; }

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
                    throw new EcrCacheException(DiagnosticIds.BaseImageBadReference, from.Image, from.Line);
                }

                var wanted = from.Platform != null ? new[] { NormalizePlatform(from.Platform) } : platforms.Select(NormalizePlatform).ToArray();
                foreach (var platform in wanted)
                {
                    var name = reference!.ToString() + " " + (platform.Length == 0 ? "unknown" : platform);
                    if (result.ContainsKey(name))
                    {
                        continue;
                    }

                    result[name] = await ResolveOneAsync(name, from, reference, platform, mode, cache, offline, cancellationToken).ConfigureAwait(false);
                }
            }

            cache?.Save();
            return result.Values.OrderBy(r => r.Name, StringComparer.Ordinal).ToList();
        }

        private async Task<ResolvedBaseImage> ResolveOneAsync(string name, FromInstruction from, ImageReference reference, string platform, BaseImageDigestMode mode, BaseImageDigestCache? cache, bool offline, CancellationToken cancellationToken)
        {
            if (reference.Digest != null)
            {
                return new ResolvedBaseImage(name, reference.Digest, ResolvedBaseImage.Pinned);
            }

            var key = reference.ToString();
            if (cache != null && cache.TryGet(key, platform, offline, out var cached, out _))
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
            (string? Digest, string? Platforms) answer;
            try
            {
                answer = await LookUpAsync(reference, platform, cancellationToken).ConfigureAwait(false);
            }
            catch (EcrCacheException ex)
            {
                answer = (null, null);
                failure = ex;
            }

            if (answer.Digest != null)
            {
                cache?.Set(key, platform, answer.Digest);
                _log.Detail("Base image " + key + " for " + platform + ": " + answer.Digest + ".");
                return new ResolvedBaseImage(name, answer.Digest, ResolvedBaseImage.FromRegistry);
            }

            if (answer.Platforms != null)
            {
                // The registry answered: a missing platform is not something a local image or BestEffort should hide.
                throw new EcrCacheException(DiagnosticIds.BaseImagePlatformMissing, reference.ToString(), platform, answer.Platforms);
            }

            failure ??= new EcrCacheException(DiagnosticIds.BaseImagePlatformMissing, reference.ToString(), platform, "");

            if (_localImageId != null)
            {
                var id = await _localImageId(from.Image, cancellationToken).ConfigureAwait(false);
                if (!string.IsNullOrEmpty(id))
                {
                    _log.Info("EcrCache: the registry of base image " + from.Image + " did not answer (" + failure.Diagnostic.Code + "), but the Docker daemon has it: keying on its local image id " + id + ".");
                    cache?.Set(key, platform, NotInRegistry);
                    return new ResolvedBaseImage(name, "image-id " + id, ResolvedBaseImage.LocalImage);
                }
            }

            if (mode == BaseImageDigestMode.BestEffort)
            {
                _log.Warning(Diagnostic.Create(DiagnosticIds.BaseImageUnresolvedBestEffort, from.Image, failure.Diagnostic.ToString()));
                return new ResolvedBaseImage(name, ResolvedBaseImage.Unresolved, ResolvedBaseImage.Unresolved);
            }

            throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.BaseImageUnresolved, from.Image, from.Line, failure.Diagnostic.ToString()), failure);
        }

        private async Task<(string? Digest, string? Platforms)> LookUpAsync(ImageReference reference, string platform, CancellationToken cancellationToken)
        {
            var client = Client(reference.ApiHost);
            RegistryLookups++;
            var (mediaType, body, digest) = await client.GetManifestAsync(reference.Path, reference.Reference, cancellationToken).ConfigureAwait(false);
            var isIndex = ManifestMediaTypes.IsIndex(mediaType) || (mediaType.Length == 0 && LooksLikeIndex(body));
            if (!isIndex)
            {
                return (digest ?? RegistryClient.ComputeDigest(body), null);
            }

            var picked = PickPlatform(body, platform);
            return picked != null ? (picked, null) : (null, string.Join(", ", ListPlatforms(body)));
        }

        private RegistryClient Client(string host)
        {
            lock (_clients)
            {
                if (!_clients.TryGetValue(host, out var client))
                {
                    client = new RegistryClient(RegistryEndpoint.Parse(host), _credentials, _log, _handler);
                    _clients.Add(host, client);
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
