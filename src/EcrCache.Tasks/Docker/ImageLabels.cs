using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using EcrCache.Keys;
using EcrCache.Processes;

namespace EcrCache.Docker
{
    /// <summary>
    /// The labels on every image EcrCache builds, so an image says why it exists: when it was built, from which commit
    /// and repository, for which key and inputs. They are passed as <c>--label</c>, which only changes the final image
    /// config: they never enter the key, and a rebuild with a new created time still takes every layer from the cache.
    /// </summary>
    internal static class ImageLabels
    {
        public const string Created = "org.opencontainers.image.created";
        public const string Revision = "org.opencontainers.image.revision";
        public const string Source = "org.opencontainers.image.source";
        public const string Key = "io.ecrcache.key";
        public const string Inputs = "io.ecrcache.inputs";

        private static readonly TimeSpan GitTimeout = TimeSpan.FromSeconds(10);

        // user[:password]@ after the scheme of a URL; scp-like git@host:path has no scheme and no secret to strip.
        private static readonly Regex UserInfo = new Regex("^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", RegexOptions.CultureInvariant);

        /// <summary>The labels for an image of <paramref name="key"/> built now, in a fixed order; revision and source only when known.</summary>
        public static async Task<IReadOnlyList<KeyValuePair<string, string>>> ForBuildAsync(CacheKey key, string contextDirectory, Func<string, string?> environment, IProcessRunner runner, IBuildLog log, DateTime utcNow, CancellationToken cancellationToken)
        {
            var labels = new List<KeyValuePair<string, string>>
            {
                new KeyValuePair<string, string>(Created, FormatTime(utcNow)),
            };

            var revision = Blank(environment("BUILDKITE_COMMIT"));
            if (revision == null || revision == "HEAD")
            {
                // Buildkite sets BUILDKITE_COMMIT=HEAD for a build of a branch's tip before checkout; git knows better.
                revision = await GitAsync(new[] { "rev-parse", "HEAD" }, contextDirectory, environment, runner, log, cancellationToken).ConfigureAwait(false);
            }

            if (revision != null)
            {
                labels.Add(new KeyValuePair<string, string>(Revision, revision));
            }

            var source = Blank(environment("BUILDKITE_REPO"))
                ?? await GitAsync(new[] { "remote", "get-url", "origin" }, contextDirectory, environment, runner, log, cancellationToken).ConfigureAwait(false);
            if (source != null)
            {
                labels.Add(new KeyValuePair<string, string>(Source, StripCredentials(source)));
            }

            labels.Add(new KeyValuePair<string, string>(Key, key.Hash));
            labels.Add(new KeyValuePair<string, string>(Inputs, InputsDigest(key.Manifest)));
            return labels;
        }

        /// <summary>The <c>--label</c> arguments for <paramref name="labels"/>.</summary>
        public static IEnumerable<string> Arguments(IEnumerable<KeyValuePair<string, string>> labels) =>
            labels.SelectMany(l => new[] { "--label", l.Key + "=" + l.Value });

        /// <summary>sha256 of obj/ecrcache/key-manifest.json as written (UTF-8, no BOM): <c>sha256sum</c> of that file gives the same.</summary>
        public static string InputsDigest(KeyManifest manifest)
        {
            using var sha = SHA256.Create();
            var hash = sha.ComputeHash(new UTF8Encoding(false).GetBytes(manifest.ToJson()));
            var sb = new StringBuilder("sha256:", 7 + 64);
            foreach (var b in hash)
            {
                sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }

            return sb.ToString();
        }

        /// <summary>A URL without its user[:password]@ part (a token in a clone URL must not end up in every image).</summary>
        public static string StripCredentials(string url) => UserInfo.Replace(url.Trim(), "$1");

        /// <summary>RFC 3339 in UTC, to the second.</summary>
        public static string FormatTime(DateTime utc) => utc.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

        // Best effort whatever goes wrong (no git, not a repository, a hung git): a label must never fail a build.
        private static async Task<string?> GitAsync(string[] arguments, string directory, Func<string, string?> environment, IProcessRunner runner, IBuildLog log, CancellationToken cancellationToken)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(GitTimeout);
                var git = ExecutableLocator.Resolve("git", environment("PATH"));
                var result = await runner.RunAsync(new ProcessSpec(git, arguments) { WorkingDirectory = directory }, timeout.Token).ConfigureAwait(false);
                var text = result.ExitCode == 0 ? Blank(result.StandardOutput.Split('\n')[0]) : null;
                if (text == null)
                {
                    log.Detail("git " + string.Join(" ", arguments) + " in " + directory + " gave nothing (exit " + result.ExitCode + "); the label is left out.");
                }

                return text;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                log.Detail("git " + string.Join(" ", arguments) + " could not run (" + ex.Message + "); the label is left out.");
                return null;
            }
        }

        private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value!.Trim();
    }
}
