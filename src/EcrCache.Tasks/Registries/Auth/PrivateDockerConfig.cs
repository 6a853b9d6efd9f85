using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EcrCache.Registries.Auth
{
    /// <summary>
    /// A per-invocation DOCKER_CONFIG folder that holds a provider's login (ECR, Artifact Registry), so the token never reaches argv, a log or the
    /// user's own config, and concurrent builds on one agent never share (or race on) a file. It is a copy of the
    /// user's config.json (so every other registry, credential helper, proxy and setting keeps working) plus
    /// <c>auths[host]</c>; when a credsStore would shadow that entry, <c>credHelpers[host]</c> is set to "" so docker
    /// reads it from the file. Every other entry of the user's config folder (cli-plugins, buildx, contexts) is linked
    /// in. The folder is 0700 and config.json 0600 (on Unix); <see cref="Dispose"/> deletes it.
    /// </summary>
    internal sealed class PrivateDockerConfig : IDisposable
    {
        private static readonly JsonDocumentOptions JsonOptions = new JsonDocumentOptions
        {
            AllowTrailingCommas = true,
            CommentHandling = JsonCommentHandling.Skip,
        };

        private PrivateDockerConfig(string directory)
        {
            Directory = directory;
        }

        /// <summary>The folder to put in DOCKER_CONFIG.</summary>
        public string Directory { get; }

        public string ConfigPath => Path.Combine(Directory, "config.json");

        /// <summary>
        /// Writes the private config: the user's config (at <paramref name="userConfigPath"/>, may be missing) plus a
        /// login for <paramref name="host"/>. A failure to write it is the provider's diagnostic
        /// <paramref name="writeFailedId"/> (formatted with the parent folder and the reason).
        /// </summary>
        public static PrivateDockerConfig Create(string userConfigPath, string host, string username, string password, string? parentDirectory = null, string writeFailedId = DiagnosticIds.EcrDockerConfigWriteFailed)
        {
            var parent = string.IsNullOrEmpty(parentDirectory) ? Path.GetTempPath() : parentDirectory!;
            var directory = Path.Combine(parent, "ecrcache-docker-" + Guid.NewGuid().ToString("N").Substring(0, 16));
            try
            {
                CreatePrivateDirectory(directory);
                var config = LoadUserConfig(userConfigPath);
                AddLogin(config, host, username, password);
                WritePrivateFile(Path.Combine(directory, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                LinkUserEntries(Path.GetDirectoryName(userConfigPath), directory);
                return new PrivateDockerConfig(directory);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is NotSupportedException)
            {
                TryDelete(directory);
                throw new EcrCacheException(Diagnostic.Create(writeFailedId, parent, ex.Message), ex);
            }
        }

        public void Dispose() => TryDelete(Directory);

        public override string ToString() => "PrivateDockerConfig(" + Directory + ")";

        internal static JsonObject LoadUserConfig(string path)
        {
            if (string.IsNullOrEmpty(path) || !File.Exists(path))
            {
                return new JsonObject();
            }

            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new EcrCacheException(DiagnosticIds.DockerConfigInvalid, path, ex.Message);
            }

            if (string.IsNullOrWhiteSpace(text))
            {
                return new JsonObject();
            }

            try
            {
                return JsonNode.Parse(text, null, JsonOptions) as JsonObject
                    ?? throw new EcrCacheException(DiagnosticIds.DockerConfigInvalid, path, "it is not a JSON object");
            }
            catch (JsonException ex)
            {
                throw new EcrCacheException(DiagnosticIds.DockerConfigInvalid, path, ex.Message);
            }
        }

        internal static void AddLogin(JsonObject config, string host, string username, string password)
        {
            var normalized = DockerConfig.NormalizeHost(host);
            var auths = config["auths"] as JsonObject;
            if (auths == null)
            {
                auths = new JsonObject();
                config["auths"] = auths;
            }

            foreach (var key in auths.Select(p => p.Key).ToList())
            {
                if (DockerConfig.NormalizeHost(key) == normalized)
                {
                    auths.Remove(key);
                }
            }

            auths[host] = new JsonObject
            {
                ["auth"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(username + ":" + password)),
            };

            // docker reads a host's credentials from its helper (credHelpers[host], else credsStore) and ignores auths
            // then; an empty helper name routes the host back to this file.
            var helpers = config["credHelpers"] as JsonObject;
            var store = config["credsStore"] is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;
            if (helpers != null)
            {
                foreach (var key in helpers.Select(p => p.Key).ToList())
                {
                    if (DockerConfig.NormalizeHost(key) == normalized)
                    {
                        helpers.Remove(key);
                    }
                }
            }

            if (!string.IsNullOrEmpty(store) || helpers != null)
            {
                if (helpers == null)
                {
                    helpers = new JsonObject();
                    config["credHelpers"] = helpers;
                }

                helpers[host] = string.Empty;
            }
        }

        private static void CreatePrivateDirectory(string directory)
        {
#if NETFRAMEWORK
            System.IO.Directory.CreateDirectory(directory);
#else
            if (OperatingSystem.IsWindows())
            {
                System.IO.Directory.CreateDirectory(directory);
            }
            else
            {
                System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
#endif
        }

        private static void WritePrivateFile(string path, string content)
        {
            var bytes = new UTF8Encoding(false).GetBytes(content);
#if NETFRAMEWORK
            using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
#else
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var stream = new FileStream(path, options);
#endif
            stream.Write(bytes, 0, bytes.Length);
        }

        /// <summary>Links cli-plugins, buildx, contexts, ... of the user's docker folder, so plugins and builders still work.</summary>
        private static void LinkUserEntries(string? userDirectory, string directory)
        {
#if !NETFRAMEWORK
            if (string.IsNullOrEmpty(userDirectory) || !System.IO.Directory.Exists(userDirectory))
            {
                return;
            }

            IEnumerable<string> entries;
            try
            {
                entries = System.IO.Directory.EnumerateFileSystemEntries(userDirectory).ToList();
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return;
            }

            foreach (var entry in entries)
            {
                var name = Path.GetFileName(entry);
                if (string.Equals(name, "config.json", StringComparison.Ordinal) || name.StartsWith("config.json", StringComparison.Ordinal))
                {
                    continue;
                }

                try
                {
                    if (System.IO.Directory.Exists(entry))
                    {
                        System.IO.Directory.CreateSymbolicLink(Path.Combine(directory, name), entry);
                    }
                    else
                    {
                        File.CreateSymbolicLink(Path.Combine(directory, name), entry);
                    }
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is PlatformNotSupportedException)
                {
                    // A missing plugin link only matters to a build that uses the plugin; docker then says so itself.
                }
            }
#endif
        }

        private static void TryDelete(string directory)
        {
            try
            {
                if (System.IO.Directory.Exists(directory))
                {
                    // Links are removed as links (their targets are never followed by Directory.Delete).
                    System.IO.Directory.Delete(directory, recursive: true);
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // Best effort: the folder lives under TMPDIR and holds a token that expires within 12 hours.
            }
        }
    }
}
