using System.Text.Json;
using EcrCache.Docker;
using EcrCache.Http;
using EcrCache.Registries.Oci;

namespace EcrCache.Keys.BaseImages
{
    /// <summary>
    /// The registry mirrors that Docker Hub (docker.io) base images are looked up through, in order, before Docker Hub
    /// itself, as dockerd pulls them: <c>EcrCacheRegistryMirrors</c> when set (<c>none</c> for no mirror), else the
    /// daemon's <c>registry-mirrors</c> (<c>docker info</c>, asked once and only when a docker.io image needs a
    /// registry request).
    /// </summary>
    internal static class RegistryMirrors
    {
        /// <summary>The value of EcrCacheRegistryMirrors that turns the daemon's mirrors off.</summary>
        public const string None = "none";

        /// <summary>
        /// A mirror has a fallback behind it, so a dead one must not eat the whole retry deadline: two attempts and
        /// 10 s per request (a refused connection moves on in well under a second).
        /// </summary>
        public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

        public static HttpRetryPolicy RetryPolicy { get; } = new HttpRetryPolicy
        {
            MaxAttempts = 2,
            BaseDelay = TimeSpan.FromMilliseconds(200),
            MaxDelay = TimeSpan.FromSeconds(1),
            Deadline = TimeSpan.FromSeconds(5),
        };

        /// <summary>
        /// Parses EcrCacheRegistryMirrors: null when blank (the daemon's mirrors apply), empty for <c>none</c>, else
        /// the mirrors in order. A value that is not a registry URL is ECRC1118.
        /// </summary>
        public static IReadOnlyList<RegistryEndpoint>? ParseOption(string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                return null;
            }

            var list = new List<RegistryEndpoint>();
            foreach (var part in value!.Split(';'))
            {
                var text = part.Trim();
                if (text.Length == 0)
                {
                    continue;
                }

                if (string.Equals(text, None, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                if (!TryParseUrl(text, out var endpoint))
                {
                    throw new EcrCacheException(DiagnosticIds.BadRegistryMirror, text);
                }

                list.Add(endpoint!);
            }

            return list;
        }

        /// <summary>
        /// A mirror URL as dockerd takes it: <c>https://host[:port][/]</c> or <c>http://host[:port][/]</c> (plain
        /// http is used as written); a bare host[:port] means https, or http for loopback. No path, query or user info.
        /// </summary>
        public static bool TryParseUrl(string text, out RegistryEndpoint? endpoint)
        {
            endpoint = null;
            var insecure = false;
            var rest = text.Trim();
            if (rest.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            {
                rest = rest.Substring("https://".Length);
            }
            else if (rest.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            {
                rest = rest.Substring("http://".Length);
                insecure = true;
            }
            else if (rest.IndexOf("://", StringComparison.Ordinal) >= 0)
            {
                return false;
            }

            if (rest.EndsWith("/", StringComparison.Ordinal))
            {
                rest = rest.Substring(0, rest.Length - 1);
            }

            return RegistryEndpoint.TryParse(rest, insecure, out endpoint);
        }

        /// <summary>
        /// The daemon's mirrors (<c>docker info</c>'s RegistryConfig.Mirrors). A daemon that cannot say has none; a
        /// mirror URL it reports that EcrCache cannot use is skipped with warning ECRC1119.
        /// </summary>
        public static async Task<IReadOnlyList<RegistryEndpoint>> FromDaemonAsync(DockerCli docker, IBuildLog log, CancellationToken cancellationToken)
        {
            var result = await docker.RunAsync(new[] { "info", "--format", "{{json .RegistryConfig.Mirrors}}" }, cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                log.Detail("Could not read the daemon's registry mirrors ('docker info' exited " + result.ExitCode + "); looking up Docker Hub images at Docker Hub.");
                return Array.Empty<RegistryEndpoint>();
            }

            var mirrors = new List<RegistryEndpoint>();
            foreach (var url in ParseDockerInfo(result.StandardOutput))
            {
                if (TryParseUrl(url, out var endpoint))
                {
                    mirrors.Add(endpoint!);
                }
                else
                {
                    log.Warning(Diagnostic.Create(DiagnosticIds.DaemonRegistryMirrorUnusable, url));
                }
            }

            log.Detail(mirrors.Count == 0
                ? "The Docker daemon has no registry mirrors."
                : "The Docker daemon's registry mirrors: " + string.Join(", ", mirrors.ConvertAll(m => m.BaseUri.ToString())) + ".");
            return mirrors;
        }

        /// <summary>The URLs in <c>docker info --format '{{json .RegistryConfig.Mirrors}}'</c> output (<c>null</c> or a JSON array).</summary>
        internal static IReadOnlyList<string> ParseDockerInfo(string output)
        {
            var list = new List<string>();
            try
            {
                using var doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(output) ? "null" : output.Trim());
                if (doc.RootElement.ValueKind == JsonValueKind.Array)
                {
                    foreach (var item in doc.RootElement.EnumerateArray())
                    {
                        if (item.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(item.GetString()))
                        {
                            list.Add(item.GetString()!.Trim());
                        }
                    }
                }
            }
            catch (JsonException)
            {
                // An old or odd client: treat it as no mirrors rather than failing the key.
            }

            return list;
        }
    }
}
