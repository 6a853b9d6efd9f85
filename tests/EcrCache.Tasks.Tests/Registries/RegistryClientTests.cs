using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EcrCache.Diagnostics;
using EcrCache.Registries.Auth;
using EcrCache.Registries.Oci;

namespace EcrCache.Tasks.Tests.Registries
{
    /// <summary>An in-memory HttpMessageHandler: answers with a function and records what was sent.</summary>
    internal sealed class FakeHandler : HttpMessageHandler
    {
        private readonly Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> _respond;

        public FakeHandler(Func<HttpRequestMessage, HttpResponseMessage> respond)
            : this((request, _) => Task.FromResult(respond(request)))
        {
        }

        public FakeHandler(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> respond)
        {
            _respond = respond;
        }

        public List<(string Method, Uri Uri, string? Authorization, string Accept)> Sent { get; } = new();

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (Sent)
            {
                Sent.Add((request.Method.Method, request.RequestUri!, request.Headers.Authorization?.ToString(), request.Headers.Accept.ToString()));
            }

            return _respond(request, cancellationToken);
        }

        public static HttpResponseMessage Status(int status, string? body = null, string? contentType = null)
        {
            var response = new HttpResponseMessage((HttpStatusCode)status) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body ?? string.Empty)) };
            if (contentType != null)
            {
                response.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
            }

            return response;
        }

        public static HttpResponseMessage Redirect(int status, string location)
        {
            var response = Status(status);
            response.Headers.Location = new Uri(location, UriKind.RelativeOrAbsolute);
            return response;
        }

        public static HttpResponseMessage Challenge(string challenge)
        {
            var response = Status(401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}", "application/json");
            response.Headers.TryAddWithoutValidation("WWW-Authenticate", challenge);
            return response;
        }

        public static HttpResponseMessage Manifest(string body, string? digest, string mediaType = ManifestMediaTypes.DockerManifest)
        {
            var response = Status(200, body, mediaType);
            if (digest != null)
            {
                response.Headers.TryAddWithoutValidation("Docker-Content-Digest", digest);
            }

            return response;
        }
    }

    [TestClass]
    public sealed class RegistryClientTests
    {
        private const string Body = "{\"schemaVersion\":2}";
        private static readonly string BodyDigest = RegistryClient.ComputeDigest(Encoding.UTF8.GetBytes(Body));

        private static RegistryClient Client(FakeHandler handler, string host = "registry.example.com", RegistryCredential? credential = null, bool insecure = false, RecordingLog? log = null) =>
            new RegistryClient(RegistryEndpoint.Parse(host, insecure), new StaticCredentialProvider(credential), log ?? new RecordingLog(), handler);

        [TestMethod]
        public async Task HeadSendsTheManifestAcceptListAndReadsHeaders()
        {
            var handler = new FakeHandler(_ => FakeHandler.Manifest(Body, BodyDigest));
            var log = new RecordingLog();
            using var client = Client(handler, log: log);

            var info = await client.HeadManifestAsync("team/app", "v1.2", CancellationToken.None);

            Assert.AreEqual(BodyDigest, info!.Digest);
            Assert.AreEqual(ManifestMediaTypes.DockerManifest, info.MediaType);
            Assert.AreEqual(Body.Length, info.Size);
            var sent = handler.Sent.Single();
            Assert.AreEqual("HEAD", sent.Method);
            Assert.AreEqual("https://registry.example.com/v2/team/app/manifests/v1.2", sent.Uri.ToString());
            Assert.IsNull(sent.Authorization, "the first request is anonymous");
            Assert.AreEqual(
                "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.v1+prettyjws",
                sent.Accept);
            StringAssert.Matches(log.Lines.Single(), new System.Text.RegularExpressions.Regex("^HEAD https://registry.example.com/v2/team/app/manifests/v1.2 -> 200 \\([0-9]+ ms\\)$"));
        }

        [TestMethod]
        public async Task HeadWithoutDigestHeaderFallsBackToGet()
        {
            var handler = new FakeHandler(request => FakeHandler.Manifest(Body, null));
            using var client = Client(handler);
            var info = await client.HeadManifestAsync("team/app", "1", CancellationToken.None);
            Assert.AreEqual(BodyDigest, info!.Digest);
            CollectionAssert.AreEqual(new[] { "HEAD", "GET" }, handler.Sent.Select(s => s.Method).ToArray());
        }

        [TestMethod]
        public async Task GetByDigestVerifiesTheContent()
        {
            var wrong = "sha256:" + new string('0', 64);
            var handler = new FakeHandler(_ => FakeHandler.Manifest(Body, wrong));
            using var client = Client(handler);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.GetManifestAsync("team/app", wrong, CancellationToken.None));
            Assert.AreEqual("ECRC1303", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, BodyDigest);
        }

        [TestMethod]
        public async Task OversizedManifestIsRefused()
        {
            var big = new string(' ', RegistryClient.MaxManifestBytes + 10);
            using var client = Client(new FakeHandler(_ => FakeHandler.Manifest(big, null)));
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.GetManifestAsync("team/app", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1303", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "MiB");
        }

        [TestMethod]
        public async Task ServerErrorIsECRC1303WithTheRegistryErrors()
        {
            using var client = Client(new FakeHandler(_ => FakeHandler.Status(500, "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"storage backend down\"}]}", "application/json")));
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.GetManifestAsync("team/app", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1303", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "HTTP 500");
            StringAssert.Contains(ex.Message, "GET /v2/team/app/manifests/1");
            StringAssert.Contains(ex.Message, "UNKNOWN: storage backend down");

            using var head = Client(new FakeHandler(_ => FakeHandler.Status(502)));
            var headEx = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => head.HeadManifestAsync("team/app", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1303", headEx.Diagnostic.Code);
        }

        [TestMethod]
        public async Task ForbiddenIsECRC1302()
        {
            using var client = Client(new FakeHandler(_ => FakeHandler.Status(403, "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"requested access to the resource is denied\"}]}")));
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.GetManifestAsync("team/app", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1302", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "HTTP 403");
            StringAssert.Contains(ex.Message, "DENIED");
        }

        [TestMethod]
        public async Task UnsupportedChallengeIsECRC1302()
        {
            using var client = Client(new FakeHandler(_ => FakeHandler.Challenge("Negotiate")), credential: RegistryCredential.Basic("u", "p"));
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync("team/app", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1302", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "Negotiate");
        }

        [TestMethod]
        public async Task BasicChallengeIsAnsweredAndRememberedButWrongCredentialsAreNotRetriedForever()
        {
            var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("u:p"));
            var handler = new FakeHandler(request =>
                request.Headers.Authorization?.ToString() == expected ? FakeHandler.Manifest(Body, BodyDigest) : FakeHandler.Challenge("Basic realm=\"r\""));
            using var client = Client(handler, credential: RegistryCredential.Basic("u", "p"));
            Assert.IsNotNull(await client.HeadManifestAsync("team/app", "1", CancellationToken.None));
            Assert.IsNotNull(await client.HeadManifestAsync("team/app", "2", CancellationToken.None));
            CollectionAssert.AreEqual(new string?[] { null, expected, expected }, handler.Sent.Select(s => s.Authorization).ToArray());

            var refusing = new FakeHandler(_ => FakeHandler.Challenge("Basic realm=\"r\""));
            using var wrong = Client(refusing, credential: RegistryCredential.Basic("u", "bad"));
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => wrong.HeadManifestAsync("team/app", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1302", ex.Diagnostic.Code);
            Assert.AreEqual(2, refusing.Sent.Count);
        }

        [TestMethod]
        public async Task RegistryTokenIsSentAsBearer()
        {
            var handler = new FakeHandler(request =>
                request.Headers.Authorization?.ToString() == "Bearer reg-tok" ? FakeHandler.Manifest(Body, BodyDigest) : FakeHandler.Challenge("Bearer realm=\"https://auth.example.com/token\",service=\"s\""));
            using var client = Client(handler, credential: new RegistryCredential(null, null, registryToken: "reg-tok"));
            Assert.IsNotNull(await client.HeadManifestAsync("team/app", "1", CancellationToken.None));
            Assert.IsFalse(handler.Sent.Any(s => s.Uri.Host == "auth.example.com"), "no token request with a registry token");
        }

        [TestMethod]
        public async Task CredentialsAreNotSentToAPlainHttpTokenRealmOnAnotherHost()
        {
            var handler = new FakeHandler(request =>
            {
                if (request.RequestUri!.Host == "auth.example.com")
                {
                    return FakeHandler.Status(200, "{\"token\":\"anon\"}", "application/json");
                }

                return request.Headers.Authorization?.ToString() == "Bearer anon"
                    ? FakeHandler.Manifest(Body, BodyDigest)
                    : FakeHandler.Challenge("Bearer realm=\"http://auth.example.com/token\",service=\"s\"");
            });
            var log = new RecordingLog();
            using var client = Client(handler, credential: RegistryCredential.Basic("u", "p"), log: log);
            Assert.IsNotNull(await client.HeadManifestAsync("team/app", "1", CancellationToken.None));
            var tokenRequest = handler.Sent.Single(s => s.Uri.Host == "auth.example.com");
            Assert.IsNull(tokenRequest.Authorization);
            Assert.IsFalse(tokenRequest.Uri.Query.Contains("account="));
            StringAssert.Contains(log.All, "Not sending credentials");
        }

        [TestMethod]
        public async Task InsecureRegistryGetsCredentialsOverHttp()
        {
            var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("u:p"));
            var handler = new FakeHandler(request =>
                request.Headers.Authorization?.ToString() == expected ? FakeHandler.Manifest(Body, BodyDigest) : FakeHandler.Challenge("Basic realm=\"r\""));
            using var client = Client(handler, host: "registry.internal:5000", credential: RegistryCredential.Basic("u", "p"), insecure: true);
            Assert.IsNotNull(await client.HeadManifestAsync("team/app", "1", CancellationToken.None));
            Assert.AreEqual("http", handler.Sent[0].Uri.Scheme);
        }

        [TestMethod]
        public async Task RedirectFromHttpsToHttpIsRefused()
        {
            var handler = new FakeHandler(_ => FakeHandler.Redirect(307, "http://evil.example.com/v2/team/app/manifests/1"));
            using var client = Client(handler, credential: RegistryCredential.Basic("u", "p"));
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.GetManifestAsync("team/app", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1303", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "drops TLS");
            Assert.AreEqual(1, handler.Sent.Count);
        }

        [TestMethod]
        public async Task AuthorizationIsKeptOnSameOriginRedirectsAndDroppedOnOthers()
        {
            var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("u:p"));
            var handler = new FakeHandler(request =>
            {
                var uri = request.RequestUri!;
                if (uri.Host == "cdn.example.com")
                {
                    return FakeHandler.Manifest(Body, BodyDigest);
                }

                if (request.Headers.Authorization == null)
                {
                    return FakeHandler.Challenge("Basic realm=\"r\"");
                }

                return uri.AbsolutePath.EndsWith("/1", StringComparison.Ordinal)
                    ? FakeHandler.Redirect(302, "/v2/team/app/manifests/1-moved")
                    : FakeHandler.Redirect(307, "https://cdn.example.com/blob?X-Amz-Signature=secret-signature");
            });
            var log = new RecordingLog();
            using var client = Client(handler, credential: RegistryCredential.Basic("u", "p"), log: log);

            var (_, body, _) = await client.GetManifestAsync("team/app", "1", CancellationToken.None);

            Assert.AreEqual(Body, Encoding.UTF8.GetString(body));
            var sent = handler.Sent.Select(s => s.Uri.Host + s.Uri.AbsolutePath + " " + (s.Authorization ?? "-")).ToArray();
            CollectionAssert.AreEqual(
                new[]
                {
                    "registry.example.com/v2/team/app/manifests/1 -",
                    "registry.example.com/v2/team/app/manifests/1 " + expected,
                    "registry.example.com/v2/team/app/manifests/1-moved " + expected,
                    "cdn.example.com/blob -",
                },
                sent);
            log.AssertNoSecret("secret-signature");
        }

        [TestMethod]
        public async Task TooManyRedirectsIsECRC1303()
        {
            var handler = new FakeHandler(_ => FakeHandler.Redirect(302, "/v2/team/app/manifests/1"));
            using var client = Client(handler);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync("team/app", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1303", ex.Diagnostic.Code);
            Assert.AreEqual(6, handler.Sent.Count);
        }

        [TestMethod]
        public async Task TimeoutIsECRC1301()
        {
            var handler = new FakeHandler(async (_, ct) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(30), ct);
                return FakeHandler.Status(200);
            });
            var log = new RecordingLog();
            using var client = Client(handler, log: log);
            client.Timeout = TimeSpan.FromMilliseconds(200);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync("team/app", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1301", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "no answer within 0.2 s");
            StringAssert.Contains(log.All, "-> failed: timed out");
        }

        [TestMethod]
        public async Task CallerCancellationIsNotATimeout()
        {
            var handler = new FakeHandler(async (_, ct) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(30), ct);
                return FakeHandler.Status(200);
            });
            using var client = Client(handler);
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
            try
            {
                await client.HeadManifestAsync("team/app", "1", cts.Token);
                Assert.Fail("expected cancellation");
            }
            catch (OperationCanceledException)
            {
            }
        }

        [TestMethod]
        public void DefaultTimeoutIs30SecondsAndMustBePositive()
        {
            using var client = Client(new FakeHandler(_ => FakeHandler.Status(200)));
            Assert.AreEqual(TimeSpan.FromSeconds(30), client.Timeout);
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => client.Timeout = TimeSpan.Zero);
            client.Timeout = Timeout.InfiniteTimeSpan;
        }

        [TestMethod]
        public async Task TransportFailureIsECRC1301()
        {
            using var client = Client(new FakeHandler((_, _) => throw new HttpRequestException("boom", new IOException("Connection reset by peer"))));
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync("team/app", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1301", ex.Diagnostic.Code);
            StringAssert.Contains(ex.Message, "Connection reset by peer");
        }

        [TestMethod]
        public async Task PingAndEnsureV2()
        {
            using var ok = Client(new FakeHandler(_ => FakeHandler.Status(200, "{}")));
            Assert.IsTrue(await ok.PingAsync(CancellationToken.None));

            using var notV2 = Client(new FakeHandler(_ => FakeHandler.Status(404, "<html>nope</html>")));
            Assert.IsFalse(await notV2.PingAsync(CancellationToken.None));
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => notV2.EnsureV2Async(CancellationToken.None));
            Assert.AreEqual("ECRC1306", ex.Diagnostic.Code);
        }

        [TestMethod]
        public async Task BadRepositoryAndReferenceAreRejectedBeforeAnyRequest()
        {
            var handler = new FakeHandler(_ => FakeHandler.Status(200));
            using var client = Client(handler);
            var ex = await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync("Team/App", "1", CancellationToken.None));
            Assert.AreEqual("ECRC1010", ex.Diagnostic.Code);
            await Assert.ThrowsExactlyAsync<EcrCacheException>(() => client.HeadManifestAsync("../v2", "1", CancellationToken.None));
            await Assert.ThrowsExactlyAsync<ArgumentException>(() => client.HeadManifestAsync("team/app", "a/b", CancellationToken.None));
            await Assert.ThrowsExactlyAsync<ArgumentException>(() => client.HeadManifestAsync("team/app", "..", CancellationToken.None));
            Assert.AreEqual(0, handler.Sent.Count);
        }
    }
}
