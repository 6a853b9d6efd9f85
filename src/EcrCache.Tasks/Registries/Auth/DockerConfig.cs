using System.Text;
using System.Text.Json;

namespace EcrCache.Registries.Auth
{
    /// <summary>
    /// The parts of the docker CLI's config file (<c>$DOCKER_CONFIG/config.json</c>, else
    /// <c>~/.docker/config.json</c>) that say how to authenticate to a registry: <c>auths</c>, <c>credHelpers</c>
    /// and <c>credsStore</c>. A missing file is an empty config. Host keys are matched like the docker CLI does:
    /// <c>host</c>, <c>host:port</c>, <c>https://host/v1/</c> and <c>http://host</c> all name the same registry,
    /// and <c>docker.io</c>, <c>index.docker.io</c>, <c>registry-1.docker.io</c> and
    /// <c>https://index.docker.io/v1/</c> all name Docker Hub.
    /// </summary>
    internal sealed class DockerConfig
    {
        /// <summary>The key the docker CLI uses for Docker Hub in <c>auths</c> and on a credential helper's stdin.</summary>
        public const string DockerHubServerAddress = "https://index.docker.io/v1/";

        /// <summary>The host every Docker Hub alias normalizes to.</summary>
        public const string DockerHubHost = "docker.io";

        private static readonly JsonDocumentOptions JsonOptions = new JsonDocumentOptions
        {
            AllowTrailingCommas = true,
            CommentHandling = JsonCommentHandling.Skip,
        };

        private readonly List<AuthEntry> _auths;
        private readonly Dictionary<string, string> _credentialHelpers;

        private DockerConfig(string path, bool fileExists, List<AuthEntry> auths, Dictionary<string, string> credentialHelpers, string? credentialsStore)
        {
            Path = path;
            FileExists = fileExists;
            _auths = auths;
            _credentialHelpers = credentialHelpers;
            CredentialsStore = credentialsStore;
        }

        /// <summary>The config file this was loaded from (it may not exist).</summary>
        public string Path { get; }

        /// <summary>False when the file did not exist (the config is then empty).</summary>
        public bool FileExists { get; }

        /// <summary>The <c>credsStore</c> helper name (for example <c>desktop</c>, <c>pass</c>), or null.</summary>
        public string? CredentialsStore { get; }

        /// <summary>The <c>credHelpers</c> map as written in the file (keys not normalized).</summary>
        public IReadOnlyDictionary<string, string> CredentialHelpers => _credentialHelpers;

        /// <summary>The normalized hosts that have an <c>auths</c> entry with credentials (no secrets).</summary>
        public IReadOnlyList<string> AuthHosts
        {
            get
            {
                var hosts = new List<string>();
                foreach (var entry in _auths)
                {
                    if (entry.HasCredentials && !hosts.Contains(entry.Host))
                    {
                        hosts.Add(entry.Host);
                    }
                }

                return hosts;
            }
        }

        /// <summary>An empty config (as if the file did not exist).</summary>
        public static DockerConfig Empty(string path = "") =>
            new DockerConfig(path, false, new List<AuthEntry>(), new Dictionary<string, string>(StringComparer.Ordinal), null);

        /// <summary>
        /// Where the docker CLI reads its config: <c>$DOCKER_CONFIG/config.json</c> when DOCKER_CONFIG is set,
        /// else <c>&lt;home&gt;/.docker/config.json</c>.
        /// </summary>
        public static string ResolvePath(Func<string, string?> environment, string? homeDirectory)
        {
            if (environment == null)
            {
                throw new ArgumentNullException(nameof(environment));
            }

            var dockerConfig = environment("DOCKER_CONFIG");
            if (!string.IsNullOrWhiteSpace(dockerConfig))
            {
                return System.IO.Path.Combine(dockerConfig!, "config.json");
            }

            var home = string.IsNullOrEmpty(homeDirectory) ? "~" : homeDirectory!;
            return System.IO.Path.Combine(home, ".docker", "config.json");
        }

        /// <summary>Loads the config the docker CLI would use, given an environment and a home directory.</summary>
        public static DockerConfig Load(Func<string, string?> environment, string? homeDirectory) =>
            LoadFile(ResolvePath(environment, homeDirectory));

        /// <summary>
        /// Loads the config the docker CLI would use in <paramref name="environment"/>; the home directory is its
        /// HOME (USERPROFILE on Windows), else the current user's profile folder.
        /// </summary>
        public static DockerConfig Load(Func<string, string?> environment)
        {
            if (environment == null)
            {
                throw new ArgumentNullException(nameof(environment));
            }

            var windows = System.IO.Path.DirectorySeparatorChar == '\\';
            var home = windows ? (environment("USERPROFILE") ?? environment("HOME")) : environment("HOME");
            if (string.IsNullOrEmpty(home))
            {
                home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            }

            return Load(environment, home);
        }

        /// <summary>Loads the config of the current process's user.</summary>
        public static DockerConfig LoadDefault() =>
            Load(Environment.GetEnvironmentVariable, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

        /// <summary>Loads a config file; a missing file is an empty config.</summary>
        public static DockerConfig LoadFile(string path)
        {
            if (path == null)
            {
                throw new ArgumentNullException(nameof(path));
            }

            string json;
            try
            {
                if (!File.Exists(path))
                {
                    return Empty(path);
                }

                json = File.ReadAllText(path);
            }
            catch (FileNotFoundException)
            {
                return Empty(path);
            }
            catch (DirectoryNotFoundException)
            {
                return Empty(path);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new EcrCacheException(DiagnosticIds.DockerConfigInvalid, path, ex.Message);
            }

            return Parse(json, path, fileExists: true);
        }

        /// <summary>Parses config JSON. Throws DockerConfigInvalid (ECRC1305) when it is not a JSON object.</summary>
        public static DockerConfig Parse(string json, string path) => Parse(json, path, fileExists: true);

        /// <summary>
        /// The host a docker config key names, like the docker CLI's ConvertToHostname: strips <c>http://</c> or
        /// <c>https://</c> and everything from the first '/', lower-cases it, and maps Docker Hub aliases to
        /// <see cref="DockerHubHost"/>.
        /// </summary>
        public static string NormalizeHost(string hostOrUrl)
        {
            if (hostOrUrl == null)
            {
                throw new ArgumentNullException(nameof(hostOrUrl));
            }

            var host = hostOrUrl.Trim();
            if (host.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            {
                host = host.Substring("https://".Length);
            }
            else if (host.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            {
                host = host.Substring("http://".Length);
            }

            var slash = host.IndexOf('/');
            if (slash >= 0)
            {
                host = host.Substring(0, slash);
            }

            host = host.ToLowerInvariant();
            switch (host)
            {
                case "docker.io":
                case "index.docker.io":
                case "registry-1.docker.io":
                case "registry.hub.docker.com":
                    return DockerHubHost;
                default:
                    return host;
            }
        }

        /// <summary>
        /// The server address to give a credential helper for <paramref name="host"/>: Docker Hub's legacy
        /// address for Docker Hub (as the docker CLI does), else the host itself.
        /// </summary>
        public static string GetServerAddress(string host) =>
            NormalizeHost(host) == DockerHubHost ? DockerHubServerAddress : host;

        /// <summary>
        /// The <c>auths</c> credentials for <paramref name="host"/>, or null when there is no entry or the entry is
        /// empty (docker writes <c>{}</c> placeholders when a credsStore holds the secret). An exact key match wins
        /// over a normalized one. Throws DockerConfigInvalid when the entry's <c>auth</c> field is malformed.
        /// </summary>
        public RegistryCredential? GetAuth(string host)
        {
            var entry = FindAuthEntry(host);
            return entry?.ToCredential(Path);
        }

        /// <summary>
        /// The credential helper the user routes <paramref name="host"/> to: its <c>credHelpers</c> entry, else
        /// <c>credsStore</c>, else null. The name is the part after <c>docker-credential-</c> (e.g. <c>ecr-login</c>).
        /// </summary>
        public string? GetCredentialHelper(string host) => GetHostCredentialHelper(host) ?? CredentialsStore;

        /// <summary>The <c>credHelpers</c> entry for <paramref name="host"/> only (ignores credsStore).</summary>
        public string? GetHostCredentialHelper(string host)
        {
            if (host == null)
            {
                throw new ArgumentNullException(nameof(host));
            }

            foreach (var pair in _credentialHelpers)
            {
                if (string.Equals(pair.Key, host, StringComparison.OrdinalIgnoreCase))
                {
                    return NullIfEmpty(pair.Value);
                }
            }

            var normalized = NormalizeHost(host);
            foreach (var pair in _credentialHelpers)
            {
                if (NormalizeHost(pair.Key) == normalized)
                {
                    return NullIfEmpty(pair.Value);
                }
            }

            return null;
        }

        public override string ToString() => "DockerConfig(" + Path + ")";

        private AuthEntry? FindAuthEntry(string host)
        {
            if (host == null)
            {
                throw new ArgumentNullException(nameof(host));
            }

            var normalized = NormalizeHost(host);
            var exactKey = normalized == DockerHubHost ? DockerHubServerAddress : host;
            foreach (var entry in _auths)
            {
                if (entry.HasCredentials && string.Equals(entry.Key, exactKey, StringComparison.OrdinalIgnoreCase))
                {
                    return entry;
                }
            }

            foreach (var entry in _auths)
            {
                if (entry.HasCredentials && entry.Host == normalized)
                {
                    return entry;
                }
            }

            return null;
        }

        private static DockerConfig Parse(string json, string path, bool fileExists)
        {
            if (json == null)
            {
                throw new ArgumentNullException(nameof(json));
            }

            var auths = new List<AuthEntry>();
            var helpers = new Dictionary<string, string>(StringComparer.Ordinal);
            string? store = null;

            // The docker CLI accepts an empty file.
            if (json.Trim().Length == 0)
            {
                return new DockerConfig(path, fileExists, auths, helpers, null);
            }

            try
            {
                using var document = JsonDocument.Parse(json, JsonOptions);
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    throw Invalid(path, "the top level is not a JSON object");
                }

                foreach (var property in root.EnumerateObject())
                {
                    switch (property.Name.ToLowerInvariant())
                    {
                        case "auths":
                            ReadAuths(property.Value, path, auths);
                            break;
                        case "credhelpers":
                            if (property.Value.ValueKind == JsonValueKind.Null)
                            {
                                break;
                            }

                            if (property.Value.ValueKind != JsonValueKind.Object)
                            {
                                throw Invalid(path, "'credHelpers' is not an object");
                            }

                            foreach (var helper in property.Value.EnumerateObject())
                            {
                                if (helper.Value.ValueKind != JsonValueKind.String)
                                {
                                    throw Invalid(path, "credHelpers['" + helper.Name + "'] is not a string");
                                }

                                helpers[helper.Name] = helper.Value.GetString() ?? string.Empty;
                            }

                            break;
                        case "credsstore":
                            if (property.Value.ValueKind == JsonValueKind.String)
                            {
                                store = NullIfEmpty(property.Value.GetString());
                            }
                            else if (property.Value.ValueKind != JsonValueKind.Null)
                            {
                                throw Invalid(path, "'credsStore' is not a string");
                            }

                            break;
                    }
                }
            }
            catch (JsonException ex)
            {
                throw Invalid(path, ex.Message);
            }

            return new DockerConfig(path, fileExists, auths, helpers, store);
        }

        private static void ReadAuths(JsonElement element, string path, List<AuthEntry> auths)
        {
            if (element.ValueKind == JsonValueKind.Null)
            {
                return;
            }

            if (element.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(path, "'auths' is not an object");
            }

            foreach (var server in element.EnumerateObject())
            {
                if (server.Value.ValueKind != JsonValueKind.Object)
                {
                    throw Invalid(path, "auths['" + server.Name + "'] is not an object");
                }

                var entry = new AuthEntry(server.Name);
                foreach (var field in server.Value.EnumerateObject())
                {
                    if (field.Value.ValueKind != JsonValueKind.String)
                    {
                        continue;
                    }

                    var value = NullIfEmpty(field.Value.GetString());
                    switch (field.Name.ToLowerInvariant())
                    {
                        case "auth":
                            entry.Auth = value;
                            break;
                        case "username":
                            entry.Username = value;
                            break;
                        case "password":
                            entry.Password = value;
                            break;
                        case "identitytoken":
                            entry.IdentityToken = value;
                            break;
                        case "registrytoken":
                            entry.RegistryToken = value;
                            break;
                    }
                }

                auths.Add(entry);
            }
        }

        private static EcrCacheException Invalid(string path, string reason) =>
            new EcrCacheException(DiagnosticIds.DockerConfigInvalid, path, reason);

        private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

        /// <summary>One <c>auths</c> entry. Holds secrets: never log it.</summary>
        private sealed class AuthEntry
        {
            public AuthEntry(string key)
            {
                Key = key;
                Host = NormalizeHost(key);
            }

            public string Key { get; }

            public string Host { get; }

            public string? Auth { get; set; }

            public string? Username { get; set; }

            public string? Password { get; set; }

            public string? IdentityToken { get; set; }

            public string? RegistryToken { get; set; }

            public bool HasCredentials =>
                Auth != null || (Username != null && Password != null) || IdentityToken != null || RegistryToken != null;

            public RegistryCredential ToCredential(string path)
            {
                var username = Username;
                var password = Password;
                if (Auth != null)
                {
                    // Like the docker CLI, "auth" (base64 of user:password) wins over username/password.
                    string decoded;
                    try
                    {
                        decoded = Encoding.UTF8.GetString(Convert.FromBase64String(Auth.Trim()));
                    }
                    catch (FormatException)
                    {
                        throw Invalid(path, "the 'auth' value of auths['" + Key + "'] is not base64");
                    }

                    var colon = decoded.IndexOf(':');
                    if (colon < 0)
                    {
                        throw Invalid(path, "the 'auth' value of auths['" + Key + "'] is not base64 of 'user:password'");
                    }

                    username = decoded.Substring(0, colon);
                    password = decoded.Substring(colon + 1);
                }

                return new RegistryCredential(username, password, IdentityToken, RegistryToken);
            }

            public override string ToString() => "AuthEntry(" + Key + ", <redacted>)";
        }
    }
}
