using EcrCache.Http;
using Google.Apis.Auth.OAuth2;
using Google.Apis.Auth.OAuth2.Responses;

namespace EcrCache.Stores.Gar
{
    /// <summary>Where the Artifact Registry provider gets OAuth2 access tokens; asked before every call (tokens expire after an hour).</summary>
    internal interface IGoogleAccessTokenSource
    {
        /// <summary>For messages: where the credentials come from (a file path, "the metadata server"; never a secret).</summary>
        string Description { get; }

        /// <summary>A current access token for the cloud-platform scope. Throws ECRC1606 (none found) or ECRC1607 (refused).</summary>
        Task<string> GetAccessTokenAsync(CancellationToken cancellationToken);
    }

    /// <summary>Optionally implemented by a token source whose credentials name a quota project (quota_project_id).</summary>
    internal interface IGoogleQuotaProject
    {
        /// <summary>The project API calls are billed and quota-checked against (x-goog-user-project), or null; known after the first token.</summary>
        string? QuotaProject { get; }
    }

    /// <summary>A fixed token (tests, or a caller that got one itself). <see cref="ToString"/> is redacted.</summary>
    internal sealed class StaticGoogleAccessTokenSource : IGoogleAccessTokenSource
    {
        private readonly string _token;

        public StaticGoogleAccessTokenSource(string token, string description = "a static access token")
        {
            _token = string.IsNullOrEmpty(token) ? throw new ArgumentException("empty token", nameof(token)) : token;
            Description = description;
        }

        public string Description { get; }

        public Task<string> GetAccessTokenAsync(CancellationToken cancellationToken) => Task.FromResult(_token);

        public override string ToString() => "StaticGoogleAccessTokenSource(<redacted>)";
    }

    /// <summary>
    /// Application Default Credentials through Google.Apis.Auth, in ADC's order: the JSON file that
    /// GOOGLE_APPLICATION_CREDENTIALS names (service-account key, external account / workload identity federation,
    /// impersonated or authorized-user credentials), gcloud's application_default_credentials.json (CLOUDSDK_CONFIG, else
    /// ~/.config/gcloud, %APPDATA%\gcloud on Windows), then the GCE/GKE metadata server (GCE_METADATA_HOST overrides its
    /// address). The first two are read from the build's environment, which tests inject. Scoped to cloud-platform;
    /// Google.Apis.Auth caches the token and refreshes it before it expires. Its HTTP goes through
    /// <see cref="HttpClients.CreateHandler"/>.
    /// </summary>
    internal sealed class ApplicationDefaultCredentialSource : IGoogleAccessTokenSource, IGoogleQuotaProject
    {
        public const string CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform";

        /// <summary>A token request (including a metadata-server probe) that takes longer than this fails (ECRC1607).</summary>
        public static readonly TimeSpan TokenTimeout = TimeSpan.FromSeconds(60);

        private readonly Func<string, string?> _environment;
        private readonly SemaphoreSlim _gate = new SemaphoreSlim(1, 1);
        private ITokenAccess? _credential;
        private string _description = "Application Default Credentials";

        public ApplicationDefaultCredentialSource(Func<string, string?> environment)
        {
            _environment = environment ?? throw new ArgumentNullException(nameof(environment));
        }

        public string Description => _description;

        public string? QuotaProject { get; private set; }

        public async Task<string> GetAccessTokenAsync(CancellationToken cancellationToken)
        {
            var credential = await GetCredentialAsync(cancellationToken).ConfigureAwait(false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TokenTimeout);
            string? token;
            try
            {
                token = await credential.GetAccessTokenForRequestAsync(null, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new EcrCacheException(DiagnosticIds.GarCredentialsRejected, _description, "no token within " + TokenTimeout.TotalSeconds + " s");
            }
            catch (TokenResponseException ex)
            {
                var error = ex.Error;
                var detail = error == null ? ex.Message : error.Error + (string.IsNullOrEmpty(error.ErrorDescription) ? string.Empty : ": " + error.ErrorDescription);
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.GarCredentialsRejected, _description, Trim(detail)), ex);
            }
            catch (Exception ex) when (ex is HttpRequestException || ex is IOException || ex is InvalidOperationException)
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.GarCredentialsRejected, _description, Trim(Innermost(ex).Message)), ex);
            }

            if (string.IsNullOrEmpty(token))
            {
                throw new EcrCacheException(DiagnosticIds.GarCredentialsRejected, _description, "the answer held no access token");
            }

            return token!;
        }

        /// <summary>gcloud's ADC file for this environment, or null when no home folder is known.</summary>
        internal static string? WellKnownFile(Func<string, string?> environment)
        {
            var config = environment("CLOUDSDK_CONFIG");
            if (!string.IsNullOrWhiteSpace(config))
            {
                return Path.Combine(config!.Trim(), "application_default_credentials.json");
            }

            var appData = environment("APPDATA");
            if (Path.DirectorySeparatorChar == '\\' && !string.IsNullOrWhiteSpace(appData))
            {
                return Path.Combine(appData!, "gcloud", "application_default_credentials.json");
            }

            var home = environment("HOME");
            return string.IsNullOrWhiteSpace(home) ? null : Path.Combine(home!, ".config", "gcloud", "application_default_credentials.json");
        }

        private async Task<ITokenAccess> GetCredentialAsync(CancellationToken cancellationToken)
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_credential != null)
                {
                    return _credential;
                }

                GoogleCredential credential;
                var explicitFile = _environment("GOOGLE_APPLICATION_CREDENTIALS");
                var wellKnown = WellKnownFile(_environment);
                if (!string.IsNullOrWhiteSpace(explicitFile))
                {
                    var path = explicitFile!.Trim();
                    _description = "GOOGLE_APPLICATION_CREDENTIALS (" + path + ")";
                    if (!File.Exists(path))
                    {
                        throw new EcrCacheException(DiagnosticIds.GarCredentialsMissing, "GOOGLE_APPLICATION_CREDENTIALS names " + path + ", which does not exist");
                    }

                    credential = await FromFileAsync(path, cancellationToken).ConfigureAwait(false);
                }
                else if (wellKnown != null && File.Exists(wellKnown))
                {
                    _description = "gcloud's application default credentials (" + wellKnown + ")";
                    credential = await FromFileAsync(wellKnown, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    _description = "the metadata server";
                    if (!await ComputeCredential.IsRunningOnComputeEngine().ConfigureAwait(false))
                    {
                        throw new EcrCacheException(
                            DiagnosticIds.GarCredentialsMissing,
                            "GOOGLE_APPLICATION_CREDENTIALS is not set, " + (wellKnown ?? "gcloud's application_default_credentials.json") + " does not exist, and no GCE/GKE metadata server answered");
                    }

                    credential = GoogleCredential.FromComputeCredential(new ComputeCredential());
                }

                var scoped = credential.CreateScoped(CloudPlatformScope).CreateWithHttpClientFactory(new GoogleHttpClientFactory());
                QuotaProject = string.IsNullOrWhiteSpace(scoped.QuotaProject) ? null : scoped.QuotaProject;
                _credential = scoped;
                return _credential;
            }
            finally
            {
                _gate.Release();
            }
        }

        private async Task<GoogleCredential> FromFileAsync(string path, CancellationToken cancellationToken)
        {
            try
            {
                // ADC semantics: the file the user (or gcloud) put in place is trusted as ADC trusts it.
#pragma warning disable CS0618
                return await GoogleCredential.FromFileAsync(path, cancellationToken).ConfigureAwait(false);
#pragma warning restore CS0618
            }
            catch (Exception ex) when (ex is InvalidOperationException || ex is IOException || ex is UnauthorizedAccessException || ex is ArgumentException || ex is FormatException || ex is Newtonsoft.Json.JsonException || ex is System.Security.Cryptography.CryptographicException)
            {
                throw new EcrCacheException(Diagnostic.Create(DiagnosticIds.GarCredentialsMissing, path + " cannot be used: " + Trim(Innermost(ex).Message)), ex);
            }
        }

        private static Exception Innermost(Exception ex)
        {
            while (ex.InnerException != null)
            {
                ex = ex.InnerException;
            }

            return ex;
        }

        private static string Trim(string text)
        {
            text = text.Replace('\r', ' ').Replace('\n', ' ').Trim().TrimEnd('.');
            return text.Length > 400 ? text.Substring(0, 400) + "..." : text;
        }

        /// <summary>Google.Apis.Auth's HTTP clients on EcrCache's handler (no cookies, no automatic redirects).</summary>
        private sealed class GoogleHttpClientFactory : Google.Apis.Http.HttpClientFactory
        {
            protected override HttpMessageHandler CreateHandler(Google.Apis.Http.CreateHttpClientArgs args) => HttpClients.CreateHandler();
        }
    }
}
