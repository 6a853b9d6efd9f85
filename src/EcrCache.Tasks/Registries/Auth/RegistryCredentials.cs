namespace EcrCache.Registries.Auth
{
    /// <summary>
    /// Credentials for one registry. Any combination of fields may be set; the registry client picks what the
    /// registry's challenge asks for. Never log an instance's fields: <see cref="ToString"/> is redacted.
    /// </summary>
    internal sealed class RegistryCredential
    {
        public RegistryCredential(string? username, string? password, string? identityToken = null, string? registryToken = null)
        {
            Username = NullIfEmpty(username);
            Password = NullIfEmpty(password);
            IdentityToken = NullIfEmpty(identityToken);
            RegistryToken = NullIfEmpty(registryToken);
        }

        /// <summary>User name for basic auth (or for the token server).</summary>
        public string? Username { get; }

        /// <summary>Password for basic auth (or for the token server).</summary>
        public string? Password { get; }

        /// <summary>An OAuth2 refresh token ("identitytoken" in the docker config), exchanged at the token server.</summary>
        public string? IdentityToken { get; }

        /// <summary>A bearer token sent to the registry as is ("registrytoken" in the docker config).</summary>
        public string? RegistryToken { get; }

        /// <summary>True when both a user name and a password are present.</summary>
        public bool HasUsernamePassword => Username != null && Password != null;

        /// <summary>True when no field is set.</summary>
        public bool IsEmpty => Username == null && Password == null && IdentityToken == null && RegistryToken == null;

        public static RegistryCredential Basic(string username, string password) => new RegistryCredential(username, password);

        /// <summary>Redacted: says which fields are present, never their values.</summary>
        public override string ToString()
        {
            var parts = new List<string>();
            if (Username != null)
            {
                parts.Add("Username=<redacted>");
            }

            if (Password != null)
            {
                parts.Add("Password=<redacted>");
            }

            if (IdentityToken != null)
            {
                parts.Add("IdentityToken=<redacted>");
            }

            if (RegistryToken != null)
            {
                parts.Add("RegistryToken=<redacted>");
            }

            return "RegistryCredential(" + (parts.Count == 0 ? "empty" : string.Join(", ", parts)) + ")";
        }

        private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
    }

    /// <summary>Finds credentials for a registry host (host[:port], as in <c>RegistryEndpoint.Host</c>).</summary>
    internal interface IRegistryCredentialProvider
    {
        /// <summary>The credentials for <paramref name="host"/>, or null for anonymous access.</summary>
        Task<RegistryCredential?> GetAsync(string host, CancellationToken cancellationToken);
    }

    /// <summary>
    /// Optionally implemented by a provider to say where its credentials come from (a docker config path, "ECR
    /// GetAuthorizationToken", ...). Used in error messages; must not contain secrets.
    /// </summary>
    internal interface ICredentialSourceDescription
    {
        string CredentialSource { get; }
    }

    /// <summary>
    /// Fixed credentials: for providers that obtain a token themselves (for example ECR's GetAuthorizationToken)
    /// and for anonymous access (<see cref="Anonymous"/>).
    /// </summary>
    internal sealed class StaticCredentialProvider : IRegistryCredentialProvider, ICredentialSourceDescription
    {
        public static readonly StaticCredentialProvider Anonymous = new StaticCredentialProvider(null, "no credentials");

        private readonly RegistryCredential? _credential;
        private readonly string? _host;

        /// <summary>The same credential for every host.</summary>
        public StaticCredentialProvider(RegistryCredential? credential, string source = "static credentials")
        {
            _credential = credential;
            CredentialSource = source;
        }

        /// <summary>The credential for <paramref name="host"/> only (case-insensitive); other hosts are anonymous.</summary>
        public StaticCredentialProvider(string host, RegistryCredential credential, string source = "static credentials")
            : this(credential, source)
        {
            _host = host ?? throw new ArgumentNullException(nameof(host));
        }

        public string CredentialSource { get; }

        public Task<RegistryCredential?> GetAsync(string host, CancellationToken cancellationToken)
        {
            if (_host != null && !string.Equals(_host, host, StringComparison.OrdinalIgnoreCase))
            {
                return Task.FromResult<RegistryCredential?>(null);
            }

            return Task.FromResult(_credential);
        }

        public override string ToString() => "StaticCredentialProvider(" + CredentialSource + ")";
    }
}
