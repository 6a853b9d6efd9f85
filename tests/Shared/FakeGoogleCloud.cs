using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;

namespace EcrCache.TestSupport
{
    /// <summary>One request the fake received (the Authorization header is kept so tests can assert on it).</summary>
    public sealed record FakeGoogleRequest(string Method, string Path, string Query, string? Authorization, string Body, string? UserProject = null)
    {
        public override string ToString() => Method + " " + Path + Query;
    }

    /// <summary>
    /// A FAKE of Google's side of the Artifact Registry provider, on 127.0.0.1 (HttpListener). It is a fake because there
    /// is no Artifact Registry emulator and tests must not reach Google: it plays the OAuth2 token endpoint of a
    /// service-account key (token_uri) and the few Artifact Registry REST v1 calls EcrCache makes, and it checks what it
    /// receives as strictly as Google would for these calls:
    /// <list type="bullet">
    /// <item><c>POST /token</c>: grant_type jwt-bearer; the assertion is an RS256 JWT whose signature verifies with the
    /// public half of the key this fake generated (<see cref="WriteServiceAccountKey"/>), whose kid is the key id, whose
    /// iss is the service account, aud Google's token URL, scope includes cloud-platform, and iat/exp are now and at most an
    /// hour later. Anything else is a 400 invalid_grant. The answer is <see cref="AccessToken"/>.</item>
    /// <item><c>/v1/projects/P/locations/L/repositories[/R]</c> GET, POST (?repositoryId=, a long-running operation polled
    /// through <c>/v1/projects/P/locations/L/operations/N</c>) and PATCH (?updateMask= labels, cleanupPolicies,
    /// cleanupPolicyDryRun, nothing else): every call must carry <c>Authorization: Bearer</c> + <see cref="AccessToken"/>
    /// (else 401 UNAUTHENTICATED); bodies are validated (format DOCKER, label syntax, cleanup policy shape).</item>
    /// </list>
    /// Failure modes (API disabled, permission denied on create/update, unknown location) can be switched on per test.
    /// Every request is recorded.
    /// </summary>
    public sealed class FakeGoogleCloud : IDisposable
    {
        public const string CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform";

        /// <summary>The audience Google requires in a service account's JWT-bearer assertion.</summary>
        public const string GoogleTokenAudience = "https://oauth2.googleapis.com/token";

        private readonly HttpListener _listener;
        private readonly Task _loop;
        private readonly object _gate = new object();
        private readonly List<FakeGoogleRequest> _requests = new List<FakeGoogleRequest>();
        private readonly List<string> _tokenFailures = new List<string>();
        private readonly Dictionary<string, JsonObject> _repositories = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        private readonly RSA _key = RSA.Create(2048);
        private int _operations;
        private int _tokensIssued;

        private FakeGoogleCloud(HttpListener listener, int port, string accessToken)
        {
            _listener = listener;
            Port = port;
            AccessToken = accessToken;
            _loop = Task.Run(LoopAsync);
        }

        public int Port { get; }

        /// <summary>http://127.0.0.1:port/ (the EcrCacheGarEndpoint to use).</summary>
        public string Endpoint => "http://127.0.0.1:" + Port.ToString(CultureInfo.InvariantCulture) + "/";

        public string TokenUri => Endpoint + "token";

        /// <summary>The only access token this fake hands out and accepts.</summary>
        public string AccessToken { get; }

        public string ServiceAccountEmail { get; } = "ecrcache-ci@fake-project.iam.gserviceaccount.com";

        public string KeyId { get; } = Guid.NewGuid().ToString("N");

        /// <summary>Locations CreateRepository accepts (others are 400 INVALID_ARGUMENT about the location).</summary>
        public HashSet<string> Locations { get; } = new HashSet<string>(StringComparer.Ordinal) { "us", "europe", "asia", "europe-west1", "us-central1" };

        /// <summary>Every call answers 403 SERVICE_DISABLED.</summary>
        public bool ApiDisabled { get; set; }

        public bool DenyCreate { get; set; }

        public bool DenyUpdate { get; set; }

        public int TokensIssued => Volatile.Read(ref _tokensIssued);

        public IReadOnlyList<FakeGoogleRequest> Requests
        {
            get
            {
                lock (_gate)
                {
                    return _requests.ToList();
                }
            }
        }

        /// <summary>Why token requests were refused (empty when every assertion verified).</summary>
        public IReadOnlyList<string> TokenFailures
        {
            get
            {
                lock (_gate)
                {
                    return _tokenFailures.ToList();
                }
            }
        }

        /// <summary>Requests to the Artifact Registry API (not the token endpoint).</summary>
        public IReadOnlyList<FakeGoogleRequest> ApiRequests => Requests.Where(r => r.Path.StartsWith("/v1/", StringComparison.Ordinal)).ToList();

        public static FakeGoogleCloud Start(string? accessToken = null)
        {
            accessToken ??= "ya29.fake-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
            for (var attempt = 0; ; attempt++)
            {
                var port = FreePort();
                var listener = new HttpListener();
                listener.Prefixes.Add("http://127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture) + "/");
                try
                {
                    listener.Start();
                    return new FakeGoogleCloud(listener, port, accessToken);
                }
                catch (HttpListenerException) when (attempt < 5)
                {
                    listener.Close();
                }
            }
        }

        public static int FreePort()
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            return ((IPEndPoint)socket.LocalEndPoint!).Port;
        }

        /// <summary>Writes a service-account key file (a real RSA key made here) whose token_uri is this fake.</summary>
        public string WriteServiceAccountKey(string path, string projectId = "fake-project", string? quotaProject = null)
        {
            var json = new JsonObject
            {
                ["type"] = "service_account",
                ["project_id"] = projectId,
                ["private_key_id"] = KeyId,
                ["private_key"] = _key.ExportPkcs8PrivateKeyPem() + "\n",
                ["client_email"] = ServiceAccountEmail,
                ["client_id"] = "123456789012345678901",
                ["auth_uri"] = Endpoint + "auth",
                ["token_uri"] = TokenUri,
                ["universe_domain"] = "googleapis.com",
            };
            if (quotaProject != null)
            {
                json["quota_project_id"] = quotaProject;
            }

            File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return path;
        }

        /// <summary>The repository as the fake holds it (a copy), or null.</summary>
        public JsonObject? Repository(string name)
        {
            lock (_gate)
            {
                return _repositories.TryGetValue(name, out var repo) ? (JsonObject)repo.DeepClone() : null;
            }
        }

        /// <summary>Puts a repository in place as if someone had created it before.</summary>
        public void SeedRepository(string name, JsonObject repository)
        {
            repository["name"] = name;
            lock (_gate)
            {
                _repositories[name] = repository;
            }
        }

        public void Dispose()
        {
            try
            {
                _listener.Stop();
                _listener.Close();
            }
            catch (ObjectDisposedException)
            {
            }

            try
            {
                _loop.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
            }

            _key.Dispose();
        }

        private static JsonObject Error(int code, string status, string message, string? reason = null)
        {
            var error = new JsonObject { ["code"] = code, ["message"] = message, ["status"] = status };
            if (reason != null)
            {
                error["details"] = new JsonArray(new JsonObject
                {
                    ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo",
                    ["reason"] = reason,
                    ["domain"] = "googleapis.com",
                });
            }

            return new JsonObject { ["error"] = error };
        }

        private static byte[] Base64UrlDecode(string text)
        {
            var s = text.Replace('-', '+').Replace('_', '/');
            s += new string('=', (4 - s.Length % 4) % 4);
            return Convert.FromBase64String(s);
        }

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is HttpListenerException || ex is ObjectDisposedException || ex is InvalidOperationException)
                {
                    return;
                }

                _ = Task.Run(() => Handle(context));
            }
        }

        private void Handle(HttpListenerContext context)
        {
            try
            {
                var request = context.Request;
                string body;
                using (var reader = new StreamReader(request.InputStream, Encoding.UTF8))
                {
                    body = reader.ReadToEnd();
                }

                var recorded = new FakeGoogleRequest(request.HttpMethod, request.Url!.AbsolutePath, request.Url.Query, request.Headers["Authorization"], body, request.Headers["x-goog-user-project"]);
                lock (_gate)
                {
                    _requests.Add(recorded);
                }

                var (status, json) = recorded.Path == "/token" ? Token(recorded) : Api(recorded);
                var bytes = Encoding.UTF8.GetBytes(json.ToJsonString());
                context.Response.StatusCode = status;
                context.Response.ContentType = "application/json; charset=UTF-8";
                context.Response.ContentLength64 = bytes.Length;
                context.Response.OutputStream.Write(bytes, 0, bytes.Length);
                context.Response.Close();
            }
            catch (Exception ex) when (ex is HttpListenerException || ex is IOException || ex is ObjectDisposedException)
            {
                // The client went away.
            }
        }

        private (int, JsonObject) Token(FakeGoogleRequest request)
        {
            string? Fail(string why)
            {
                lock (_gate)
                {
                    _tokenFailures.Add(why);
                }

                return why;
            }

            var form = request.Body.Split('&', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => p.Split('=', 2))
                .ToDictionary(p => Uri.UnescapeDataString(p[0].Replace('+', ' ')), p => p.Length > 1 ? Uri.UnescapeDataString(p[1].Replace('+', ' ')) : string.Empty, StringComparer.Ordinal);
            string? problem = null;
            if (request.Method != "POST")
            {
                problem = Fail("method " + request.Method);
            }
            else if (!form.TryGetValue("grant_type", out var grant) || grant != "urn:ietf:params:oauth:grant-type:jwt-bearer")
            {
                problem = Fail("grant_type " + (form.TryGetValue("grant_type", out var g) ? g : "(none)"));
            }
            else if (!form.TryGetValue("assertion", out var assertion))
            {
                problem = Fail("no assertion");
            }
            else
            {
                problem = VerifyAssertion(assertion);
                if (problem != null)
                {
                    Fail(problem);
                }
            }

            if (problem != null)
            {
                return (400, new JsonObject { ["error"] = "invalid_grant", ["error_description"] = "fake token endpoint: " + problem });
            }

            Interlocked.Increment(ref _tokensIssued);
            return (200, new JsonObject { ["access_token"] = AccessToken, ["token_type"] = "Bearer", ["expires_in"] = 3599 });
        }

        private string? VerifyAssertion(string jwt)
        {
            var parts = jwt.Split('.');
            if (parts.Length != 3)
            {
                return "the assertion is not a JWS compact serialization";
            }

            JsonNode? header;
            JsonNode? claims;
            try
            {
                header = JsonNode.Parse(Base64UrlDecode(parts[0]));
                claims = JsonNode.Parse(Base64UrlDecode(parts[1]));
            }
            catch (Exception ex) when (ex is JsonException || ex is FormatException)
            {
                return "the assertion's header or claims are not base64url JSON";
            }

            if ((string?)header?["alg"] != "RS256")
            {
                return "alg is not RS256";
            }

            if ((string?)header?["kid"] != KeyId)
            {
                return "kid is not the key id";
            }

            var signed = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
            if (!_key.VerifyData(signed, Base64UrlDecode(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
            {
                return "the signature does not verify with the service account's public key";
            }

            if ((string?)claims?["iss"] != ServiceAccountEmail)
            {
                return "iss is not the service account";
            }

            // Google's token endpoint takes assertions addressed to its canonical URL, wherever they are posted;
            // Google.Apis.Auth addresses them so even when token_uri points elsewhere.
            if ((string?)claims?["aud"] != GoogleTokenAudience)
            {
                return "aud " + (string?)claims?["aud"] + " is not " + GoogleTokenAudience;
            }

            var scope = (string?)claims?["scope"] ?? string.Empty;
            if (!scope.Split(' ').Contains(CloudPlatformScope))
            {
                return "scope lacks cloud-platform: " + scope;
            }

            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var iat = claims?["iat"]?.GetValue<long>() ?? 0;
            var exp = claims?["exp"]?.GetValue<long>() ?? 0;
            if (Math.Abs(iat - now) > 300 || exp <= now || exp - iat > 3600)
            {
                return "iat/exp are not now and within an hour";
            }

            return null;
        }

        private (int, JsonObject) Api(FakeGoogleRequest request)
        {
            if (request.Authorization != "Bearer " + AccessToken)
            {
                return (401, Error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token."));
            }

            if (ApiDisabled)
            {
                return (403, Error(403, "PERMISSION_DENIED", "Artifact Registry API has not been used in project fake before or it is disabled.", "SERVICE_DISABLED"));
            }

            var segments = request.Path.Trim('/').Split('/');

            // v1/projects/P/locations/L/(repositories|operations)[/X]
            if (segments.Length < 6 || segments[0] != "v1" || segments[1] != "projects" || segments[3] != "locations")
            {
                return (404, Error(404, "NOT_FOUND", "unknown path " + request.Path));
            }

            var parent = string.Join("/", segments.Skip(1).Take(4));
            var location = segments[4];
            var query = ParseQuery(request.Query);
            lock (_gate)
            {
                if (segments[5] == "operations" && segments.Length == 7 && request.Method == "GET")
                {
                    return (200, new JsonObject { ["name"] = parent + "/operations/" + segments[6], ["done"] = true, ["response"] = new JsonObject { ["@type"] = "type.googleapis.com/google.devtools.artifactregistry.v1.Repository" } });
                }

                if (segments[5] != "repositories")
                {
                    return (404, Error(404, "NOT_FOUND", "unknown path " + request.Path));
                }

                if (segments.Length == 6 && request.Method == "POST")
                {
                    return Create(parent, location, query, request.Body);
                }

                if (segments.Length != 7)
                {
                    return (404, Error(404, "NOT_FOUND", "unknown path " + request.Path));
                }

                var name = parent + "/repositories/" + segments[6];
                if (!_repositories.TryGetValue(name, out var repo))
                {
                    return (404, Error(404, "NOT_FOUND", "Requested entity was not found."));
                }

                if (request.Method == "GET")
                {
                    return (200, (JsonObject)repo.DeepClone());
                }

                if (request.Method == "PATCH")
                {
                    return Patch(repo, query, request.Body);
                }

                return (405, Error(405, "UNIMPLEMENTED", "method " + request.Method));
            }
        }

        private (int, JsonObject) Create(string parent, string location, Dictionary<string, string> query, string body)
        {
            if (DenyCreate)
            {
                return (403, Error(403, "PERMISSION_DENIED", "Permission 'artifactregistry.repositories.create' denied on resource '" + parent + "' (or it may not exist).", "IAM_PERMISSION_DENIED"));
            }

            if (!Locations.Contains(location))
            {
                return (400, Error(400, "INVALID_ARGUMENT", "Invalid resource field value in the request: location " + location + " is not a valid location."));
            }

            if (!query.TryGetValue("repositoryId", out var id) || id.Length == 0)
            {
                return (400, Error(400, "INVALID_ARGUMENT", "repositoryId is required"));
            }

            var name = parent + "/repositories/" + id;
            if (_repositories.ContainsKey(name))
            {
                return (409, Error(409, "ALREADY_EXISTS", "the repository already exists"));
            }

            JsonObject repo;
            try
            {
                repo = JsonNode.Parse(body) as JsonObject ?? throw new JsonException("not an object");
            }
            catch (JsonException ex)
            {
                return (400, Error(400, "INVALID_ARGUMENT", "body: " + ex.Message));
            }

            if ((string?)repo["format"] != "DOCKER")
            {
                return (400, Error(400, "INVALID_ARGUMENT", "format must be DOCKER for this test"));
            }

            var invalid = Validate(repo);
            if (invalid != null)
            {
                return (400, Error(400, "INVALID_ARGUMENT", invalid));
            }

            repo["name"] = name;
            repo["createTime"] = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture);
            _repositories[name] = repo;
            var n = Interlocked.Increment(ref _operations);
            return (200, new JsonObject { ["name"] = parent + "/operations/op-" + n.ToString(CultureInfo.InvariantCulture), ["done"] = false });
        }

        private (int, JsonObject) Patch(JsonObject repo, Dictionary<string, string> query, string body)
        {
            if (DenyUpdate)
            {
                return (403, Error(403, "PERMISSION_DENIED", "Permission 'artifactregistry.repositories.update' denied on resource '" + (string?)repo["name"] + "'.", "IAM_PERMISSION_DENIED"));
            }

            if (!query.TryGetValue("updateMask", out var mask) || mask.Length == 0)
            {
                return (400, Error(400, "INVALID_ARGUMENT", "updateMask is required"));
            }

            JsonObject patch;
            try
            {
                patch = JsonNode.Parse(body) as JsonObject ?? throw new JsonException("not an object");
            }
            catch (JsonException ex)
            {
                return (400, Error(400, "INVALID_ARGUMENT", "body: " + ex.Message));
            }

            var invalid = Validate(patch);
            if (invalid != null)
            {
                return (400, Error(400, "INVALID_ARGUMENT", invalid));
            }

            foreach (var field in mask.Split(','))
            {
                if (field != "labels" && field != "cleanupPolicies" && field != "cleanupPolicyDryRun")
                {
                    return (400, Error(400, "INVALID_ARGUMENT", "updateMask field " + field + " is not supported by this fake"));
                }

                var value = patch[field];
                if (value == null)
                {
                    repo.Remove(field);
                }
                else
                {
                    repo[field] = value.DeepClone();
                }
            }

            return (200, (JsonObject)repo.DeepClone());
        }

        /// <summary>The label and cleanup-policy rules Artifact Registry enforces, as far as EcrCache's requests go.</summary>
        private static string? Validate(JsonObject repo)
        {
            if (repo["labels"] is JsonObject labels)
            {
                foreach (var pair in labels)
                {
                    if (!System.Text.RegularExpressions.Regex.IsMatch(pair.Key, "^[a-z][a-z0-9_-]{0,62}$"))
                    {
                        return "label key " + pair.Key + " is invalid";
                    }

                    var value = (string?)pair.Value ?? string.Empty;
                    if (!System.Text.RegularExpressions.Regex.IsMatch(value, "^[a-z0-9_-]{0,63}$"))
                    {
                        return "label value " + value + " is invalid";
                    }
                }
            }

            if (repo["cleanupPolicies"] is JsonObject policies)
            {
                if (policies.Count > 10)
                {
                    return "at most 10 cleanup policies";
                }

                foreach (var pair in policies)
                {
                    if (pair.Value is not JsonObject policy || (string?)policy["id"] != pair.Key)
                    {
                        return "cleanup policy " + pair.Key + " must be an object whose id is its key";
                    }

                    var action = (string?)policy["action"];
                    if (action != "DELETE" && action != "KEEP")
                    {
                        return "cleanup policy " + pair.Key + " has no valid action";
                    }

                    if (policy["condition"] is JsonObject condition && condition["olderThan"] is JsonNode olderThan
                        && !System.Text.RegularExpressions.Regex.IsMatch((string?)olderThan ?? string.Empty, "^[0-9]+s$"))
                    {
                        return "olderThan must be a duration in seconds";
                    }
                }
            }

            return null;
        }

        private static Dictionary<string, string> ParseQuery(string query) =>
            query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => p.Split('=', 2))
                .ToDictionary(p => Uri.UnescapeDataString(p[0]), p => p.Length > 1 ? Uri.UnescapeDataString(p[1]) : string.Empty, StringComparer.Ordinal);
    }
}
