using System.Text.Json;
using EcrCache.Core;
using EcrCache.Docker;
using EcrCache.Keys.BaseImages;
using EcrCache.Options;
using EcrCache.Processes;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;

namespace EcrCache.Keys.Explain
{
    /// <summary>
    /// ExplainCachedImageKey with EcrCacheExplainImage: reads the EcrCache labels of an image (the local daemon's copy
    /// through <c>docker image inspect</c>, else the registry's manifest and config blob, never the layers), says whether
    /// this checkout's key is the image's key, and, when obj/ecrcache/ holds the key manifest of the image's key, what
    /// differs from it.
    /// </summary>
    internal static class ImageExplainer
    {
        public static async Task ExplainAsync(CacheOptions options, CacheKey computed, DockerCli docker, IProcessRunner runner, IBuildLog log, CancellationToken cancellationToken)
        {
            var reference = options.ExplainImage!;
            var (labels, where) = await ReadLabelsAsync(options, reference, docker, runner, log, cancellationToken).ConfigureAwait(false);
            if (!labels.TryGetValue(ImageLabels.Key, out var imageKey) || string.IsNullOrWhiteSpace(imageKey))
            {
                throw new EcrCacheException(DiagnosticIds.ExplainImageNoLabels, reference);
            }

            imageKey = imageKey.Trim();
            log.Important("EcrCache image " + reference + " (" + where + "):");
            log.Important("  key: " + imageKey);
            foreach (var name in new[] { ImageLabels.Inputs, ImageLabels.Created, ImageLabels.Revision, ImageLabels.Source })
            {
                log.Important("  " + name + ": " + (labels.TryGetValue(name, out var value) ? value : "(not set)"));
            }

            if (string.Equals(imageKey, computed.Hash, StringComparison.Ordinal))
            {
                log.Important("  this checkout would hit it: its key " + computed.Hash + " is the image's key.");
                return;
            }

            log.Important("  this checkout would miss it: its key is " + computed.Hash + ", not the image's key.");
            var earlier = FindManifest(options.IntermediateDirectory, imageKey);
            if (earlier == null)
            {
                log.Important("  what differs: no key manifest for " + imageKey + " in " + options.IntermediateDirectory
                    + " (" + CacheEngine.ManifestFileName + " and " + MissExplanation.PreviousManifestFileName + " hold the last keys computed and ensured here); run ExplainCachedImageKey on the checkout that built it and compare the manifests.");
                return;
            }

            var lines = MissExplanation.Describe(earlier, computed.Manifest);
            log.Important("  what differs from the image's inputs (" + earlier.Entries.Count + " entries, from obj/):");
            foreach (var line in lines)
            {
                log.Important("    - " + line);
            }
        }

        /// <summary>The key manifest in obj/ecrcache/ whose key is <paramref name="hash"/>, or null.</summary>
        internal static KeyManifest? FindManifest(string intermediateDirectory, string hash)
        {
            foreach (var name in new[] { MissExplanation.PreviousManifestFileName, CacheEngine.ManifestFileName })
            {
                var path = Path.Combine(intermediateDirectory, name);
                try
                {
                    if (File.Exists(path) && KeyManifest.TryFromJson(File.ReadAllText(path), out var manifest)
                        && string.Equals(manifest!.ComputeKeyHash(), hash, StringComparison.Ordinal))
                    {
                        return manifest;
                    }
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                }
            }

            return null;
        }

        /// <summary>The labels <c>docker image inspect</c> reports (null labels are none), or null when the daemon has no such image.</summary>
        internal static IReadOnlyDictionary<string, string>? ParseInspectLabels(ProcessResult result)
        {
            if (result.ExitCode != 0)
            {
                return null;
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            try
            {
                using var document = JsonDocument.Parse(result.StandardOutput.Trim());
                if (document.RootElement.ValueKind == JsonValueKind.Object)
                {
                    foreach (var pair in document.RootElement.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String))
                    {
                        labels[pair.Name] = pair.Value.GetString()!;
                    }
                }
            }
            catch (JsonException)
            {
            }

            return labels;
        }

        private static async Task<(IReadOnlyDictionary<string, string> Labels, string Where)> ReadLabelsAsync(CacheOptions options, string reference, DockerCli docker, IProcessRunner runner, IBuildLog log, CancellationToken cancellationToken)
        {
            ProcessResult? inspect = null;
            try
            {
                inspect = await docker.RunAsync(new[] { "image", "inspect", "--format", "{{json .Config.Labels}}", reference }, cancellationToken).ConfigureAwait(false);
            }
            catch (EcrCacheException ex)
            {
                log.Detail("docker image inspect " + reference + " failed (" + ex.Message + "); asking the registry.");
            }

            var local = inspect == null ? null : ParseInspectLabels(inspect);
            if (local != null)
            {
                return (local, "local daemon");
            }

            ImageReference.TryParse(reference, out var parsed);
            var host = parsed!.ApiHost;
            var insecure = options.RegistryInsecure && string.Equals(host, options.Registry, StringComparison.OrdinalIgnoreCase);
            var endpoint = RegistryEndpoint.Parse(host, insecure);
            var config = DockerConfig.Load(options.Environment, System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile));
            var credentials = new DockerConfigCredentialProvider(config, runner, options.Environment, log);
            using var client = new RegistryClient(endpoint, credentials, log);
            var image = await ImageConfigs.ReadAsync(client, parsed.Path, parsed.Reference, cancellationToken).ConfigureAwait(false);
            if (image == null)
            {
                throw new EcrCacheException(DiagnosticIds.ExplainImageNotFound, reference, "HEAD /v2/" + parsed.Path + "/manifests/" + parsed.Reference + " on " + host + " answered 404");
            }

            return (image.Labels, "registry " + host + ", manifest " + image.ManifestDigest + "; no layers pulled");
        }
    }
}
