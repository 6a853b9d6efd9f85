using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EcrCache.Registries.Oci;
using static EcrCache.Http.HttpMessages;

namespace EcrCache.Registries.Auth
{
    /// <summary>
    /// The registry auth handshake, as a DelegatingHandler on the registry client's HttpClient pipeline. A request
    /// marked for the registry (<see cref="Mark"/>) goes anonymous first; on 401 the WWW-Authenticate challenge is
    /// answered (Bearer with a token from its realm, else Basic) and the request sent once more. Once a registry has
    /// challenged, later requests are authenticated up front. Unmarked requests (token requests, redirects to another
    /// origin) pass untouched. Credentials go to the registry only over https, to loopback or to an explicitly
    /// insecure registry, and to a token realm only where <see cref="TokenRealmPolicy"/> allows; elsewhere the token
    /// is asked for anonymously. Safe for concurrent use.
    /// </summary>
    internal sealed class RegistryAuthenticationHandler : DelegatingHandler
    {
        private const int MaxTokenBodyBytes = 1024 * 1024;

        private readonly RegistryEndpoint _endpoint;
        private readonly IRegistryCredentialProvider _credentials;
        private readonly IBuildLog _log;
        private readonly Func<RegistryRequest, CancellationToken, Task<RegistryResponse>> _send;
        private readonly BearerTokenCache _tokens = new BearerTokenCache();
        private readonly object _gate = new object();
        private Task<RegistryCredential?>? _credentialTask;
        private AuthenticationChallenge? _challenge;

        /// <param name="send">How token requests are sent: unmarked, through the same pipeline (retries, redirects, timeout, log).</param>
        public RegistryAuthenticationHandler(
            RegistryEndpoint endpoint,
            IRegistryCredentialProvider credentials,
            IBuildLog log,
            HttpMessageHandler inner,
            Func<RegistryRequest, CancellationToken, Task<RegistryResponse>> send)
            : base(inner)
        {
            _endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
            _credentials = credentials ?? throw new ArgumentNullException(nameof(credentials));
            _log = log ?? throw new ArgumentNullException(nameof(log));
            _send = send ?? throw new ArgumentNullException(nameof(send));
        }

        /// <summary>The actions asked for in bearer-token repository scopes.</summary>
        public RegistryAccess Access { get; set; } = RegistryAccess.Pull;

        /// <summary>Marks <paramref name="request"/> as one to the registry, for <paramref name="repository"/>'s scope.</summary>
        /// <param name="restartTimeout">Gives the caller's timeout its whole length again: called before each leg of the handshake.</param>
        public static void Mark(HttpRequestMessage request, string? repository, Action restartTimeout) =>
            Target.Attach(request, new Target(repository, restartTimeout));

        /// <summary>
        /// The diagnostic for a registry (or token server) that refused access: ECRC1302 saying where credentials were
        /// looked for, or ECRC1307 when credentials were held back from the token realm and anonymous access was not enough.
        /// </summary>
        public EcrCacheException Refused(string? repository, int status, string? detail)
        {
            var credential = Credential();
            var challenge = _challenge;
            var withheld = challenge == null ? null : Withheld(challenge, credential);
            if (withheld != null)
            {
                return new EcrCacheException(DiagnosticIds.RegistryTokenRealmRefused, _endpoint.Host, Display(new Uri(challenge!.Realm!)), withheld, repository ?? "/v2/", status);
            }

            return CredentialsRefused(repository, status, detail, credential);
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var target = Target.Of(request);
            if (target == null)
            {
                return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }

            // Once a registry has challenged us, authenticate up front (saves a round trip per request).
            var known = _challenge;
            AuthenticationHeaderValue? upFront = null;
            if (known != null)
            {
                upFront = await AuthorizeAsync(known, null, target.Repository, forceNewToken: false, cancellationToken).ConfigureAwait(false);
                target.RestartTimeout();
            }

            request.Headers.Authorization = upFront;
            var stopwatch = Stopwatch.StartNew();
            var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
            {
                return response;
            }

            IReadOnlyList<AuthenticationChallenge> challenges;
            using (response)
            {
                RegistryHttp.Log(_log, request.Method, request.RequestUri!, 401, stopwatch);
                challenges = AuthenticationChallenge.Parse(response.Headers.TryGetValues("WWW-Authenticate", out var values) ? values : new string[0]);
            }

            var challenge = Pick(challenges);
            if (challenge == null)
            {
                throw CredentialsRefused(target.Repository, 401, challenges.Count == 0
                    ? "it sent no WWW-Authenticate challenge"
                    : "it asks for an unsupported authentication scheme (" + challenges[0].Scheme + ")", Credential());
            }

            _challenge = challenge;
            target.RestartTimeout();
            var answer = await AuthorizeAsync(challenge, challenge.Scope, target.Repository, forceNewToken: upFront != null, cancellationToken).ConfigureAwait(false);
            if (answer == null)
            {
                throw Refused(target.Repository, 401, null);
            }

            request.Headers.Authorization = answer;
            target.RestartTimeout();
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>ECRC1302, saying where credentials were looked for (and that none were found, if so).</summary>
        private EcrCacheException CredentialsRefused(string? repository, int status, string? detail, RegistryCredential? credential)
        {
            var source = _credentials is ICredentialSourceDescription described ? described.CredentialSource : _credentials.GetType().Name;
            if (credential == null || credential.IsEmpty)
            {
                source = "no credentials were found for it; looked in " + source;
            }

            if (!string.IsNullOrEmpty(detail))
            {
                source += "; " + detail;
            }

            return new EcrCacheException(DiagnosticIds.RegistryAuthRefused, _endpoint.Host, repository ?? "/v2/", status, source);
        }

        private static AuthenticationChallenge? Pick(IReadOnlyList<AuthenticationChallenge> challenges) =>
            challenges.FirstOrDefault(c => c.IsBearer && !string.IsNullOrEmpty(c.Realm)) ?? challenges.FirstOrDefault(c => c.IsBasic);

        /// <summary>The Authorization header answering <paramref name="challenge"/>, or null when we have nothing to send.</summary>
        private async Task<AuthenticationHeaderValue?> AuthorizeAsync(
            AuthenticationChallenge challenge,
            string? challengeScope,
            string? repository,
            bool forceNewToken,
            CancellationToken cancellationToken)
        {
            var credential = await GetCredentialAsync(cancellationToken).ConfigureAwait(false);
            var mayUseCredentials = CanSendToRegistry();

            if (credential?.RegistryToken != null && mayUseCredentials)
            {
                // A registry token from the docker config is sent as is, like the docker CLI does.
                return new AuthenticationHeaderValue("Bearer", credential.RegistryToken);
            }

            if (challenge.IsBasic)
            {
                if (credential == null || !credential.HasUsernamePassword || !mayUseCredentials)
                {
                    return null;
                }

                return new AuthenticationHeaderValue("Basic", BasicValue(credential.Username!, credential.Password!));
            }

            var scopes = TokenScopes.Merge(challengeScope, repository, Access);
            var token = await GetBearerTokenAsync(challenge, scopes, credential, repository, forceNewToken, cancellationToken).ConfigureAwait(false);
            return new AuthenticationHeaderValue("Bearer", token);
        }

        /// <summary>The credential once looked up (null before, or when there is none).</summary>
        private RegistryCredential? Credential()
        {
            var task = _credentialTask;
            return task != null && task.Status == TaskStatus.RanToCompletion ? task.Result : null;
        }

        private Task<RegistryCredential?> GetCredentialAsync(CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                var task = _credentialTask;
                if (task == null || task.IsFaulted || task.IsCanceled)
                {
                    task = _credentials.GetAsync(_endpoint.Host, cancellationToken);
                    _credentialTask = task;
                }

                return task;
            }
        }

        private async Task<string> GetBearerTokenAsync(
            AuthenticationChallenge challenge,
            IReadOnlyList<string> scopes,
            RegistryCredential? credential,
            string? repository,
            bool forceNew,
            CancellationToken cancellationToken)
        {
            var realm = challenge.Realm!;
            if (!Uri.TryCreate(realm, UriKind.Absolute, out var realmUri) || (realmUri.Scheme != Uri.UriSchemeHttps && realmUri.Scheme != Uri.UriSchemeHttp))
            {
                throw new EcrCacheException(DiagnosticIds.RegistryUnexpectedStatus, _endpoint.Host, 401, "the auth challenge", "Its token realm '" + realm + "' is not an http(s) URL.");
            }

            var key = BearerTokenCache.Key(realm, challenge.Service, scopes);
            if (_tokens.TryGet(key, forceNew, out var cached))
            {
                return cached;
            }

            var withheld = Withheld(challenge, credential);
            if (withheld != null)
            {
                _log.Detail("Not sending credentials to the token server " + Display(realmUri) + ": it " + withheld + "; asking for an anonymous token.");
            }

            var response = await _send(TokenRequest(realmUri, challenge.Service, scopes, withheld == null ? credential : null), cancellationToken).ConfigureAwait(false);
            if (response.Status == 401 || response.Status == 403)
            {
                var detail = response.ErrorDetail();
                throw Refused(repository, response.Status, "the token server " + realmUri.Authority + " refused them" + (string.IsNullOrEmpty(detail) ? string.Empty : " (" + detail + ")"));
            }

            var operation = "the token request to " + Display(realmUri);
            if (response.Status != 200)
            {
                throw response.Unexpected(_endpoint.Host, operation);
            }

            return _tokens.Store(key, response.Body ?? new byte[0])
                ?? throw new EcrCacheException(DiagnosticIds.RegistryUnexpectedStatus, _endpoint.Host, 200, operation, "The token server's answer holds no 'token' or 'access_token'.");
        }

        /// <summary>
        /// The token request: with an identity token the OAuth2 refresh-token grant (POST, distribution token spec
        /// "oauth.md"), else a GET with the service and scopes, and Basic credentials when there are some.
        /// </summary>
        private static RegistryRequest TokenRequest(Uri realm, string? service, IReadOnlyList<string> scopes, RegistryCredential? credential)
        {
            if (credential?.IdentityToken != null)
            {
                var form = new List<KeyValuePair<string, string>>
                {
                    new KeyValuePair<string, string>("grant_type", "refresh_token"),
                    new KeyValuePair<string, string>("refresh_token", credential.IdentityToken),
                    new KeyValuePair<string, string>("client_id", "ecrcache"),
                };
                if (service != null)
                {
                    form.Add(new KeyValuePair<string, string>("service", service));
                }

                if (scopes.Count > 0)
                {
                    form.Add(new KeyValuePair<string, string>("scope", string.Join(" ", scopes)));
                }

                return new RegistryRequest(HttpMethod.Post, realm) { Content = () => new FormUrlEncodedContent(form), MaxBody = MaxTokenBodyBytes };
            }

            var query = new StringBuilder();
            void Append(string name, string value)
            {
                query.Append(query.Length == 0 ? string.Empty : "&").Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
            }

            if (service != null)
            {
                Append("service", service);
            }

            foreach (var scope in scopes)
            {
                Append("scope", scope);
            }

            AuthenticationHeaderValue? basic = null;
            if (credential != null && credential.HasUsernamePassword)
            {
                Append("account", credential.Username!);
                basic = new AuthenticationHeaderValue("Basic", BasicValue(credential.Username!, credential.Password!));
            }

            var builder = new UriBuilder(realm);
            var existing = builder.Query.TrimStart('?');
            builder.Query = existing.Length == 0 ? query.ToString() : existing + (query.Length == 0 ? string.Empty : "&" + query);
            return new RegistryRequest(HttpMethod.Get, builder.Uri) { Authorization = basic, MaxBody = MaxTokenBodyBytes };
        }

        /// <summary>
        /// Why the credentials that would go to <paramref name="challenge"/>'s token realm are held back
        /// (<see cref="TokenRealmPolicy"/>), or null: there are none to send, or the realm may have them.
        /// </summary>
        private string? Withheld(AuthenticationChallenge challenge, RegistryCredential? credential)
        {
            if (!challenge.IsBearer || credential == null || !(credential.HasUsernamePassword || credential.IdentityToken != null))
            {
                return null;
            }

            if ((credential.RegistryToken != null && CanSendToRegistry()) || !Uri.TryCreate(challenge.Realm, UriKind.Absolute, out var realm))
            {
                return null;
            }

            return TokenRealmPolicy.WhyNot(_endpoint, realm);
        }

        /// <summary>Credentials go to the registry over https, to loopback, or over http to a registry marked insecure.</summary>
        private bool CanSendToRegistry() =>
            _endpoint.BaseUri.Scheme == Uri.UriSchemeHttps || RegistryEndpoint.IsLoopbackHost(_endpoint.BaseUri.Host) || _endpoint.IsInsecure;

        private static string BasicValue(string username, string password) =>
            Convert.ToBase64String(Encoding.UTF8.GetBytes(username + ":" + password));

        /// <summary>What a marked request carries (in its options) to the handler.</summary>
        private sealed class Target
        {
            private const string Key = "EcrCache.RegistryAuthentication";
#if !NETFRAMEWORK
            private static readonly HttpRequestOptionsKey<Target> OptionsKey = new HttpRequestOptionsKey<Target>(Key);
#endif
            private readonly Action _restartTimeout;

            public Target(string? repository, Action restartTimeout)
            {
                Repository = repository;
                _restartTimeout = restartTimeout;
            }

            public string? Repository { get; }

            public void RestartTimeout() => _restartTimeout();

            public static void Attach(HttpRequestMessage request, Target target)
            {
#if NETFRAMEWORK
                request.Properties[Key] = target;
#else
                request.Options.Set(OptionsKey, target);
#endif
            }

            public static Target? Of(HttpRequestMessage request)
            {
#if NETFRAMEWORK
                return request.Properties.TryGetValue(Key, out var value) ? value as Target : null;
#else
                return request.Options.TryGetValue(OptionsKey, out var value) ? value : null;
#endif
            }
        }
    }
}
