using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using EcrCache.Diagnostics;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;

namespace EcrCache.Tasks.Tests.Registries
{
    /// <summary>
    /// A FAKE registry plus token server on 127.0.0.1 (System.Net.HttpListener). It exists because no real token
    /// server (docker/distribution "token" auth, e.g. cesanta/docker_auth) is installed on this machine; the real
    /// docker-registry here only does htpasswd Basic auth. It follows the distribution token-auth spec:
    /// /v2/... answers 401 with <c>Bearer realm="http://127.0.0.1:N/token",service="fake-registry",scope=...</c>;
    /// GET /token (Basic auth, optional) or POST /token (grant_type=refresh_token) issues a token; /v2/... accepts
    /// only issued tokens whose scope covers the request.
    /// </summary>
    internal sealed class FakeTokenRegistry : IDisposable
    {
        public const string Service = "fake-registry";
        public const string Manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{},\"layers\":[]}";

        private readonly HttpListener _listener;
        private readonly Task _loop;
        private readonly ConcurrentDictionary<string, string> _tokens = new ConcurrentDictionary<string, string>();
        private int _tokenCounter;

        public FakeTokenRegistry()
        {
            for (var attempt = 0; ; attempt++)
            {
                Port = Ports.Free();
                _listener = new HttpListener();
                _listener.Prefixes.Add("http://127.0.0.1:" + Port + "/");
                try
                {
                    _listener.Start();
                    break;
                }
                catch (HttpListenerException) when (attempt < 5)
                {
                    ((IDisposable)_listener).Dispose();
                }
            }

            _loop = Task.Run(LoopAsync);
        }

        public int Port { get; }

        public string Host => "127.0.0.1:" + Port;

        public string Username { get; set; } = "alice";

        public string Password { get; set; } = "correct horse";

        public string RefreshToken { get; set; } = "refresh-token-1";

        public bool AllowAnonymousPull { get; set; }

        /// <summary>Send no Docker-Content-Digest on HEAD (it is optional in the distribution spec).</summary>
        public bool OmitDigestOnHead { get; set; }

        /// <summary>Use "access_token" instead of "token" in the token response (OAuth2 style).</summary>
        public bool UseAccessTokenField { get; set; }

        public int? ExpiresIn { get; set; } = 300;

        /// <summary>The token realm the challenge names; null for this server's own <c>/token</c> (any host's /token is served).</summary>
        public string? Realm { get; set; }

        public string ManifestDigest => EcrCache.Registries.Oci.RegistryClient.ComputeDigest(Encoding.UTF8.GetBytes(Manifest));

        /// <summary>"METHOD path?query [auth-scheme]" for every request, in order.</summary>
        public ConcurrentQueue<string> Requests { get; } = new ConcurrentQueue<string>();

        /// <summary>The form bodies of POST /token requests.</summary>
        public ConcurrentQueue<string> TokenForms { get; } = new ConcurrentQueue<string>();

        public int TokenRequests => Requests.Count(r => r.Contains(" /token", StringComparison.Ordinal));

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
        }

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception) when (!_listener.IsListening)
                {
                    return;
                }
                catch (HttpListenerException)
                {
                    return;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }

                _ = Task.Run(() => Handle(context));
            }
        }

        private void Handle(HttpListenerContext context)
        {
            var request = context.Request;
            var response = context.Response;
            var authorization = request.Headers["Authorization"];
            var scheme = authorization == null ? "-" : authorization.Split(' ')[0];
            Requests.Enqueue(request.HttpMethod + " " + request.Url!.PathAndQuery + " " + scheme);
            try
            {
                var path = request.Url.AbsolutePath;
                if (path == "/token")
                {
                    HandleToken(request, response, authorization);
                }
                else if (path.StartsWith("/v2/", StringComparison.Ordinal))
                {
                    HandleRegistry(request, response, authorization);
                }
                else
                {
                    response.StatusCode = 404;
                }
            }
            catch (Exception ex)
            {
                response.StatusCode = 500;
                Write(response, ex.ToString());
            }
            finally
            {
                response.Close();
            }
        }

        private void HandleToken(HttpListenerRequest request, HttpListenerResponse response, string? authorization)
        {
            var query = System.Web.HttpUtility.ParseQueryString(request.Url!.Query);
            var service = query["service"];
            var scopes = query.GetValues("scope") ?? Array.Empty<string>();
            bool authenticated;
            if (request.HttpMethod == "POST")
            {
                string body;
                using (var reader = new StreamReader(request.InputStream, Encoding.UTF8))
                {
                    body = reader.ReadToEnd();
                }

                TokenForms.Enqueue(body);
                var form = System.Web.HttpUtility.ParseQueryString(body);
                service = form["service"];
                scopes = (form["scope"] ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries);
                authenticated = form["grant_type"] == "refresh_token" && form["refresh_token"] == RefreshToken;
                if (!authenticated)
                {
                    response.StatusCode = 401;
                    Write(response, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"bad refresh token\"}]}");
                    return;
                }
            }
            else if (authorization != null)
            {
                var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(Username + ":" + Password));
                if (authorization != expected)
                {
                    response.StatusCode = 401;
                    Write(response, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}");
                    return;
                }

                authenticated = true;
            }
            else
            {
                authenticated = false;
            }

            if (service != Service)
            {
                response.StatusCode = 400;
                Write(response, "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"unknown service\"}]}");
                return;
            }

            // Grant pull to everyone if anonymous pull is on; push and private pull only when authenticated.
            var granted = new List<string>();
            foreach (var scope in scopes)
            {
                var actions = scope.Substring(scope.LastIndexOf(':') + 1).Split(',');
                var resource = scope.Substring(0, scope.LastIndexOf(':'));
                var allowed = actions.Where(a => authenticated || (AllowAnonymousPull && a == "pull")).ToArray();
                if (allowed.Length > 0)
                {
                    granted.Add(resource + ":" + string.Join(",", allowed));
                }
            }

            var token = "tok-" + Interlocked.Increment(ref _tokenCounter);
            _tokens[token] = string.Join(" ", granted);
            var json = new Dictionary<string, object>
            {
                [UseAccessTokenField ? "access_token" : "token"] = token,
            };
            if (ExpiresIn != null)
            {
                json["expires_in"] = ExpiresIn.Value;
            }

            response.ContentType = "application/json";
            Write(response, JsonSerializer.Serialize(json));
        }

        private void HandleRegistry(HttpListenerRequest request, HttpListenerResponse response, string? authorization)
        {
            var path = request.Url!.AbsolutePath;
            string? repository = null;
            var manifests = path.IndexOf("/manifests/", StringComparison.Ordinal);
            if (manifests > 0)
            {
                repository = path.Substring("/v2/".Length, manifests - "/v2/".Length);
            }

            var needed = repository == null ? null : "repository:" + repository + ":pull";
            string? grants = null;
            var ok = authorization != null
                && authorization.StartsWith("Bearer ", StringComparison.Ordinal)
                && _tokens.TryGetValue(authorization.Substring("Bearer ".Length), out grants)
                && (needed == null || grants!.Split(' ').Any(g => Covers(g, needed)));
            if (!ok)
            {
                var challenge = "Bearer realm=\"" + (Realm ?? "http://" + Host + "/token") + "\",service=\"" + Service + "\"";
                if (needed != null)
                {
                    challenge += ",scope=\"" + needed + "\"";
                }

                if (authorization != null)
                {
                    challenge += ",error=\"insufficient_scope\"";
                }

                response.StatusCode = 401;
                response.AddHeader("WWW-Authenticate", challenge);
                response.ContentType = "application/json";
                Write(response, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}", request.HttpMethod == "HEAD");
                return;
            }

            if (repository == null)
            {
                response.ContentType = "application/json";
                Write(response, "{}");
                return;
            }

            var reference = path.Substring(manifests + "/manifests/".Length);
            if (reference != "1" && reference != ManifestDigest)
            {
                response.StatusCode = 404;
                response.ContentType = "application/json";
                Write(response, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}", request.HttpMethod == "HEAD");
                return;
            }

            response.ContentType = ManifestMediaTypes.OciManifest;
            if (!(OmitDigestOnHead && request.HttpMethod == "HEAD"))
            {
                response.AddHeader("Docker-Content-Digest", ManifestDigest);
            }

            Write(response, Manifest, request.HttpMethod == "HEAD");
        }

        private static bool Covers(string grant, string needed)
        {
            var resource = needed.Substring(0, needed.LastIndexOf(':'));
            var action = needed.Substring(needed.LastIndexOf(':') + 1);
            return grant.StartsWith(resource + ":", StringComparison.Ordinal)
                && grant.Substring(resource.Length + 1).Split(',').Contains(action);
        }

        private static void Write(HttpListenerResponse response, string text, bool headOnly = false)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            response.ContentLength64 = bytes.Length;
            if (!headOnly)
            {
                response.OutputStream.Write(bytes, 0, bytes.Length);
            }
        }
    }

    [TestClass]
    public sealed class BearerTokenAuthTests
    {
        private static RegistryClient Client(FakeTokenRegistry server, RegistryCredential? credential, RecordingLog log) =>
            new RegistryClient(RegistryEndpoint.Parse(server.Host, insecure: false), new StaticCredentialProvider(credential, "the test's credentials"), log);

        [TestMethod]
        public async Task BasicCredentialsAreExchangedForABearerTokenWhichIsCachedPerScope()
        {
            using var server = new FakeTokenRegistry();
            var log = new RecordingLog();
            using var client = Client(server, RegistryCredential.Basic(server.Username, server.Password), log);

            var info = await client.HeadManifestAsync("demo/app", "1", CancellationToken.None);
            Assert.AreEqual(server.ManifestDigest, info?.Digest);
            Assert.AreEqual(ManifestMediaTypes.OciManifest, info?.MediaType);

            var requests = server.Requests.ToArray();
            Assert.AreEqual(3, requests.Length, string.Join("\n", requests));
            Assert.AreEqual("HEAD /v2/demo/app/manifests/1 -", requests[0]);
            StringAssert.StartsWith(requests[1], "GET /token?");
            StringAssert.Contains(requests[1], "service=fake-registry");
            StringAssert.Contains(requests[1], "scope=repository%3Ademo%2Fapp%3Apull");
            StringAssert.EndsWith(requests[1], " Basic");
            Assert.AreEqual("HEAD /v2/demo/app/manifests/1 Bearer", requests[2]);

            // Same scope: the cached token is sent up front; no new token request, no 401.
            Assert.IsNull(await client.HeadManifestAsync("demo/app", "2", CancellationToken.None));
            var (_, body, digest) = await client.GetManifestAsync("demo/app", "1", CancellationToken.None);
            Assert.AreEqual(FakeTokenRegistry.Manifest, Encoding.UTF8.GetString(body));
            Assert.AreEqual(server.ManifestDigest, digest);
            Assert.AreEqual(1, server.TokenRequests);
            Assert.AreEqual(5, server.Requests.Count);

            // Another repository is another scope: one more token, still no 401.
            Assert.IsNotNull(await client.HeadManifestAsync("demo/other", "1", CancellationToken.None));
            Assert.AreEqual(2, server.TokenRequests);
            Assert.AreEqual(1, server.Requests.Count(r => r.StartsWith("HEAD", StringComparison.Ordinal) && r.EndsWith(" -", StringComparison.Ordinal)));

            log.AssertNoSecret(server.Password, "tok-1", "tok-2");
            Assert.IsTrue(log.Lines.Any(l => l.StartsWith("GET http://" + server.Host + "/token -> 200 (", StringComparison.Ordinal)), log.All);
        }

        [TestMethod]
        public async Task WrongPasswordAtTheTokenServerIsECRC1302()
        {
            using var server = new FakeTokenRegistry();
            var log = new RecordingLog();
            using var client = Client(server, RegistryCredential.Basic(server.Username, "wrong"), log);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync("demo/app", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1302", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "HTTP 401");
            StringAssert.Contains(ex.Message, "token server");
            StringAssert.Contains(ex.Message, "the test's credentials");
        }

        [TestMethod]
        public async Task AnonymousTokenWhenThereAreNoCredentials()
        {
            using var server = new FakeTokenRegistry { AllowAnonymousPull = true };
            using var client = Client(server, null, new RecordingLog());
            Assert.AreEqual(server.ManifestDigest, (await client.HeadManifestAsync("demo/app", "1", CancellationToken.None))?.Digest);
            Assert.IsTrue(server.Requests.Any(r => r.StartsWith("GET /token?", StringComparison.Ordinal) && r.EndsWith(" -", StringComparison.Ordinal)));
        }

        [TestMethod]
        public async Task TokenWithoutTheScopeIsECRC1302()
        {
            // Anonymous pull is off: the server issues a token without grants, and the registry keeps refusing it.
            using var server = new FakeTokenRegistry { AllowAnonymousPull = false };
            using var client = Client(server, null, new RecordingLog());
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync("demo/app", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1302", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "no credentials");
            Assert.AreEqual(3, server.Requests.Count, "one handshake, no retry loop");
        }

        [TestMethod]
        public async Task IdentityTokenIsPostedAsRefreshTokenGrant()
        {
            using var server = new FakeTokenRegistry { UseAccessTokenField = true, ExpiresIn = null };
            var log = new RecordingLog();
            using var client = Client(server, new RegistryCredential(null, null, identityToken: server.RefreshToken), log);
            client.Access = RegistryAccess.Pull | RegistryAccess.Push;

            Assert.IsNotNull(await client.HeadManifestAsync("demo/app", "1", CancellationToken.None));

            var form = System.Web.HttpUtility.ParseQueryString(server.TokenForms.Single());
            Assert.AreEqual("refresh_token", form["grant_type"]);
            Assert.AreEqual(server.RefreshToken, form["refresh_token"]);
            Assert.AreEqual("fake-registry", form["service"]);
            Assert.AreEqual("repository:demo/app:pull,push", form["scope"]);
            Assert.IsFalse(string.IsNullOrEmpty(form["client_id"]));
            log.AssertNoSecret(server.RefreshToken);
        }

        [TestMethod]
        public async Task BadIdentityTokenIsECRC1302()
        {
            using var server = new FakeTokenRegistry();
            using var client = Client(server, new RegistryCredential(null, null, identityToken: "stale"), new RecordingLog());
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync("demo/app", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1302", ex.Diagnostic.Code);
        }

        [TestMethod]
        public async Task PingGetsATokenWithoutScope()
        {
            using var server = new FakeTokenRegistry();
            using var client = Client(server, RegistryCredential.Basic(server.Username, server.Password), new RecordingLog());
            Assert.IsTrue(await client.PingAsync(CancellationToken.None));
            var tokenRequest = server.Requests.Single(r => r.Contains("/token", StringComparison.Ordinal));
            Assert.IsFalse(tokenRequest.Contains("scope="), tokenRequest);
        }
    }
}
