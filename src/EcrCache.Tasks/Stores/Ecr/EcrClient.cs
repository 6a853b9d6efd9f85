using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using EcrCache.Http;
using static EcrCache.Http.HttpMessages;

namespace EcrCache.Stores.Ecr
{
    /// <summary>
    /// A thin client for the ECR control plane's JSON 1.1 protocol: <c>POST /</c> with
    /// <c>X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.&lt;Operation&gt;</c>, signed with SigV4 for the resolved
    /// region. Retries throttling, 5xx and transport failures with exponential backoff and full jitter (the AWS SDKs'
    /// "standard" mode: up to AWS_MAX_ATTEMPTS attempts, default 3, delays capped at 20 s) and maps every other failure
    /// to a coded diagnostic. Each call is logged at detail level as
    /// <c>ECR DescribeRepositories (eu-west-1) -> 200 (35 ms)</c>; bodies and headers are never logged.
    /// </summary>
    internal sealed class EcrClient : RetryingApiClient<EcrCall>, IEcrClient
    {
        public const string TargetPrefix = "AmazonEC2ContainerRegistry_V20150921.";
        public const string ContentType = "application/x-amz-json-1.1";
        public const string SigningService = "ecr";

        private static readonly HashSet<string> ThrottlingCodes = new HashSet<string>(StringComparer.Ordinal)
        {
            "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
            "ProvisionedThroughputExceededException", "TransactionInProgressException", "RequestLimitExceeded",
            "BandwidthLimitExceeded", "RequestThrottled", "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
        };

        private static readonly HashSet<string> TransientCodes = new HashSet<string>(StringComparer.Ordinal)
        {
            "RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "ServerException", "ServiceUnavailable",
        };

        private static readonly HashSet<string> CredentialCodes = new HashSet<string>(StringComparer.Ordinal)
        {
            "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken", "InvalidSignatureException",
            "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken", "MissingAuthenticationTokenException",
            "InvalidAccessKeyId", "RequestExpired", "AuthFailure", "InvalidToken",
        };

        private static readonly HashSet<string> AccessDeniedCodes = new HashSet<string>(StringComparer.Ordinal)
        {
            "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NotAuthorized",
        };

        private readonly IAwsCredentialSource _credentials;

        // ECR retries itself (AWS "standard" mode, which also knows throttling error codes sent with HTTP 400).
        public EcrClient(EcrSettings settings, IAwsCredentialSource credentials, IBuildLog log, HttpMessageHandler? handler = null)
            : base("ECR", log, handler, decompress: false)
        {
            Settings = settings ?? throw new ArgumentNullException(nameof(settings));
            _credentials = credentials ?? throw new ArgumentNullException(nameof(credentials));
        }

        public EcrSettings Settings { get; }

        public async Task<EcrRepository?> DescribeRepositoryAsync(string name, CancellationToken cancellationToken)
        {
            var result = await CallAsync("DescribeRepositories", name, w =>
            {
                w.WritePropertyName("repositoryNames");
                w.WriteStartArray();
                w.WriteStringValue(name);
                w.WriteEndArray();
            }, new[] { "RepositoryNotFoundException" }, cancellationToken).ConfigureAwait(false);
            if (result.ErrorCode != null)
            {
                return null;
            }

            using var document = result.Document!;
            if (document.RootElement.TryGetProperty("repositories", out var repositories) && repositories.ValueKind == JsonValueKind.Array)
            {
                foreach (var repository in repositories.EnumerateArray())
                {
                    var parsed = ParseRepository(repository);
                    if (parsed != null && string.Equals(parsed.Name, name, StringComparison.Ordinal))
                    {
                        return parsed;
                    }
                }
            }

            return null;
        }

        public async Task<EcrRepository?> CreateRepositoryAsync(string name, IReadOnlyList<KeyValuePair<string, string>> tags, CancellationToken cancellationToken)
        {
            var result = await CallAsync("CreateRepository", name, w =>
            {
                w.WriteString("repositoryName", name);
                if (tags.Count > 0)
                {
                    WriteTags(w, tags);
                }
            }, new[] { "RepositoryAlreadyExistsException" }, cancellationToken).ConfigureAwait(false);
            if (result.ErrorCode != null)
            {
                return null;
            }

            using var document = result.Document!;
            return document.RootElement.TryGetProperty("repository", out var repository) ? ParseRepository(repository) ?? throw Malformed("CreateRepository") : throw Malformed("CreateRepository");
        }

        public async Task TagResourceAsync(string arn, string repositoryName, IReadOnlyList<KeyValuePair<string, string>> tags, CancellationToken cancellationToken)
        {
            var result = await CallAsync("TagResource", repositoryName, w =>
            {
                w.WriteString("resourceArn", arn);
                WriteTags(w, tags);
            }, null, cancellationToken).ConfigureAwait(false);
            result.Document?.Dispose();
        }

        public Task<string?> GetLifecyclePolicyAsync(string name, string registryId, CancellationToken cancellationToken) =>
            GetPolicyAsync("GetLifecyclePolicy", "LifecyclePolicyNotFoundException", "lifecyclePolicyText", name, registryId, cancellationToken);

        public Task PutLifecyclePolicyAsync(string name, string registryId, string policyText, CancellationToken cancellationToken) =>
            SetPolicyAsync("PutLifecyclePolicy", "lifecyclePolicyText", name, registryId, policyText, cancellationToken);

        public Task<string?> GetRepositoryPolicyAsync(string name, string registryId, CancellationToken cancellationToken) =>
            GetPolicyAsync("GetRepositoryPolicy", "RepositoryPolicyNotFoundException", "policyText", name, registryId, cancellationToken);

        public Task SetRepositoryPolicyAsync(string name, string registryId, string policyText, CancellationToken cancellationToken) =>
            SetPolicyAsync("SetRepositoryPolicy", "policyText", name, registryId, policyText, cancellationToken);

        public async Task<EcrAuthorization> GetAuthorizationTokenAsync(CancellationToken cancellationToken)
        {
            var result = await CallAsync("GetAuthorizationToken", "*", _ => { }, null, cancellationToken).ConfigureAwait(false);
            using var document = result.Document!;
            if (!document.RootElement.TryGetProperty("authorizationData", out var data) || data.ValueKind != JsonValueKind.Array)
            {
                throw new EcrCacheException(DiagnosticIds.EcrAuthorizationTokenInvalid, Settings.Region, "it has no authorizationData");
            }

            foreach (var entry in data.EnumerateArray())
            {
                var token = GetString(entry, "authorizationToken");
                var proxy = GetString(entry, "proxyEndpoint") ?? string.Empty;
                if (token == null)
                {
                    continue;
                }

                string decoded;
                try
                {
                    decoded = Encoding.UTF8.GetString(Convert.FromBase64String(token));
                }
                catch (FormatException)
                {
                    throw new EcrCacheException(DiagnosticIds.EcrAuthorizationTokenInvalid, Settings.Region, "the token is not base64");
                }

                var colon = decoded.IndexOf(':');
                if (colon <= 0 || colon == decoded.Length - 1)
                {
                    throw new EcrCacheException(DiagnosticIds.EcrAuthorizationTokenInvalid, Settings.Region, "the token is not user:password");
                }

                DateTimeOffset? expiresAt = null;
                if (entry.TryGetProperty("expiresAt", out var expires) && expires.ValueKind == JsonValueKind.Number && expires.TryGetDouble(out var seconds))
                {
                    expiresAt = DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000));
                }

                return new EcrAuthorization(decoded.Substring(0, colon), decoded.Substring(colon + 1), proxy, expiresAt);
            }

            throw new EcrCacheException(DiagnosticIds.EcrAuthorizationTokenInvalid, Settings.Region, "it holds no token");
        }

        /// <summary>
        /// The AWS error code of a response: the JSON <c>__type</c> (after any '#'), the x-amzn-ErrorType header (before
        /// any ':'), or the XML <c>&lt;Code&gt;</c> some front ends and emulators answer with; and the message.
        /// </summary>
        internal static (string? code, string? message) ParseError(string? errorTypeHeader, byte[]? body)
        {
            string? code = null;
            string? message = null;
            var text = body == null || body.Length == 0 ? string.Empty : Encoding.UTF8.GetString(body);
            var trimmed = text.TrimStart();
            if (trimmed.StartsWith("{", StringComparison.Ordinal))
            {
                try
                {
                    using var document = JsonDocument.Parse(text);
                    var root = document.RootElement;
                    code = GetString(root, "__type") ?? GetString(root, "code") ?? GetString(root, "Code");
                    message = GetString(root, "message") ?? GetString(root, "Message") ?? GetString(root, "errorMessage");
                }
                catch (JsonException)
                {
                    // Fall through to the header.
                }
            }
            else if (trimmed.StartsWith("<", StringComparison.Ordinal))
            {
                var codeMatch = Regex.Match(text, "<Code>([^<]*)</Code>");
                var messageMatch = Regex.Match(text, "<Message>([^<]*)</Message>");
                code = codeMatch.Success ? WebUtility.HtmlDecode(codeMatch.Groups[1].Value) : null;
                message = messageMatch.Success ? WebUtility.HtmlDecode(messageMatch.Groups[1].Value) : null;
            }

            if (string.IsNullOrEmpty(code) && !string.IsNullOrEmpty(errorTypeHeader))
            {
                code = errorTypeHeader;
            }

            if (code != null)
            {
                var hash = code.LastIndexOf('#');
                if (hash >= 0)
                {
                    code = code.Substring(hash + 1);
                }

                var colon = code.IndexOf(':');
                if (colon > 0)
                {
                    code = code.Substring(0, colon);
                }

                code = code.Trim();
                if (code.Length == 0)
                {
                    code = null;
                }
            }

            return (code, message);
        }

        /// <summary>A repository's lifecycle or repository policy: its text, or null when the repository has none.</summary>
        private async Task<string?> GetPolicyAsync(string operation, string notFoundCode, string textProperty, string name, string registryId, CancellationToken cancellationToken)
        {
            var result = await CallAsync(operation, name, w => WriteRepository(w, name, registryId), new[] { notFoundCode }, cancellationToken).ConfigureAwait(false);
            if (result.ErrorCode != null)
            {
                return null;
            }

            using var document = result.Document!;
            return GetString(document.RootElement, textProperty);
        }

        private async Task SetPolicyAsync(string operation, string textProperty, string name, string registryId, string policyText, CancellationToken cancellationToken)
        {
            var result = await CallAsync(operation, name, w =>
            {
                WriteRepository(w, name, registryId);
                w.WriteString(textProperty, policyText);
            }, null, cancellationToken).ConfigureAwait(false);
            result.Document?.Dispose();
        }

        private static void WriteRepository(Utf8JsonWriter writer, string name, string registryId)
        {
            if (!string.IsNullOrEmpty(registryId))
            {
                writer.WriteString("registryId", registryId);
            }

            writer.WriteString("repositoryName", name);
        }

        private static void WriteTags(Utf8JsonWriter writer, IReadOnlyList<KeyValuePair<string, string>> tags)
        {
            writer.WritePropertyName("tags");
            writer.WriteStartArray();
            foreach (var tag in tags)
            {
                writer.WriteStartObject();
                writer.WriteString("Key", tag.Key);
                writer.WriteString("Value", tag.Value);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        private static EcrRepository? ParseRepository(JsonElement element)
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var name = GetString(element, "repositoryName");
            var arn = GetString(element, "repositoryArn");
            var registryId = GetString(element, "registryId");
            var uri = GetString(element, "repositoryUri");
            if (name == null || arn == null || registryId == null || uri == null)
            {
                return null;
            }

            return new EcrRepository(name, arn, registryId, uri);
        }

        private static string? GetString(JsonElement element, string property) =>
            element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

        private EcrCacheException Malformed(string operation) =>
            new EcrCacheException(DiagnosticIds.EcrRequestFailed, operation, Settings.Region, 200, "MalformedResponse", "the answer lacks the repository");

        /// <summary>
        /// One operation with retries. Returns the parsed success body, or the error code when it is one of
        /// <paramref name="expectedErrors"/>; throws a coded diagnostic for every other failure.
        /// </summary>
        private async Task<CallResult> CallAsync(string operation, string resource, Action<Utf8JsonWriter> writeBody, string[]? expectedErrors, CancellationToken cancellationToken)
        {
            ThrowIfDisposed();
            var body = JsonObject(writeBody);
            var ((outcome, code, errorMessage), attempts) = await SendWithRetriesAsync(
                operation,
                Settings.MaxAttempts,
                async token => CreateRequest(operation, body, await _credentials.GetAsync(token).ConfigureAwait(false)),
                response => Read(operation, response),
                answer => RetryReason(answer.response, answer.code, answer.message, expectedErrors),
                cancellationToken).ConfigureAwait(false);
            if (outcome.IsSuccess)
            {
                try
                {
                    return new CallResult(ParseAnswer(outcome.Body), null);
                }
                catch (JsonException ex)
                {
                    throw new EcrCacheException(DiagnosticIds.EcrRequestFailed, operation, Settings.Region, outcome.Status, "MalformedResponse", "the answer is not JSON: " + ex.Message);
                }
            }

            var message = errorMessage ?? outcome.TransportError ?? "no message";
            if (IsExpected(code, expectedErrors))
            {
                return new CallResult(null, code);
            }

            if (IsThrottled(outcome.Status, code))
            {
                throw new EcrCacheException(DiagnosticIds.EcrThrottled, operation, Settings.Region, attempts, (code ?? "HTTP 429") + ": " + message);
            }

            if (outcome.Status == 0)
            {
                throw new EcrCacheException(DiagnosticIds.EcrUnreachable, Display(Settings.Endpoint), operation, message, Settings.Region);
            }

            if (code != null && AccessDeniedCodes.Contains(code))
            {
                throw new EcrCacheException(DiagnosticIds.EcrAccessDenied, operation, resource, Settings.Region, TrimPeriod(message));
            }

            if (code != null && CredentialCodes.Contains(code))
            {
                throw new EcrCacheException(DiagnosticIds.EcrCredentialsRejected, operation, Settings.Region, code, TrimPeriod(message) + "; credentials from " + _credentials.Description);
            }

            if (code == "InvalidParameterException" && message.IndexOf("repositoryName", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                throw new EcrCacheException(DiagnosticIds.EcrInvalidRepositoryName, resource, TrimPeriod(message));
            }

            throw new EcrCacheException(DiagnosticIds.EcrRequestFailed, operation, Settings.Region, outcome.Status, code ?? "Unknown", TrimPeriod(message));
        }

        private static bool IsExpected(string? code, string[]? expectedErrors) =>
            code != null && expectedErrors != null && Array.IndexOf(expectedErrors, code) >= 0;

        private static bool IsThrottled(int status, string? code) => status == 429 || (code != null && ThrottlingCodes.Contains(code));

        private static bool IsTransient(int status, string? code) => status == 0 || status >= 500 || (code != null && TransientCodes.Contains(code));

        /// <summary>Why a failed attempt is worth another (for the log), or null: success, an expected error, or a permanent failure.</summary>
        private static string? RetryReason(ApiResponse response, string? code, string? message, string[]? expectedErrors)
        {
            if (response.IsSuccess || IsExpected(code, expectedErrors))
            {
                return null;
            }

            var throttled = IsThrottled(response.Status, code);
            if (!throttled && !IsTransient(response.Status, code))
            {
                return null;
            }

            return (throttled ? "throttled" : "transient failure") + " (" + (code ?? message ?? response.TransportError ?? "no message") + ")";
        }

        private HttpRequestMessage CreateRequest(string operation, byte[] body, AwsCredentials credentials)
        {
            var uri = Settings.Endpoint;
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
            {
                ["host"] = uri.Authority,
                ["content-type"] = ContentType,
                ["x-amz-target"] = TargetPrefix + operation,
            };
            var authorization = SigV4.Sign("POST", uri, headers, body, Settings.Region, SigningService, credentials, DateTime.UtcNow);

            var request = new HttpRequestMessage(HttpMethod.Post, uri);
            var content = new ByteArrayContent(body);
            content.Headers.TryAddWithoutValidation("Content-Type", ContentType);
            request.Content = content;
            foreach (var header in headers)
            {
                if (string.Equals(header.Key, "host", StringComparison.OrdinalIgnoreCase) || string.Equals(header.Key, "content-type", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                request.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            request.Headers.TryAddWithoutValidation("Authorization", authorization);
            return request;
        }

        /// <summary>The AWS error code and message of a failed attempt; records the attempt.</summary>
        private (ApiResponse response, string? code, string? message) Read(string operation, ApiResponse response)
        {
            string? code = null;
            string? message = null;
            if (response.Status != 0 && !response.IsSuccess)
            {
                var header = response.Headers!.TryGetValues("x-amzn-ErrorType", out var values) ? string.Join(",", values) : null;
                (code, message) = ParseError(header, response.Body);
            }

            var uri = Settings.Endpoint;
            var status = response.Status;
            Record(
                new EcrCall(operation, Settings.Region, uri.Authority, status, code),
                "ECR " + operation + " (" + Settings.Region + ") " + Display(uri) + " -> " + (status == 0 ? "failed" : status.ToString(CultureInfo.InvariantCulture)) + (code != null ? " " + code : string.Empty) + " (" + response.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture) + " ms)");
            return (response, code, message);
        }

        private static string TrimPeriod(string message) => message.Trim().TrimEnd('.');

        private sealed class CallResult
        {
            public CallResult(JsonDocument? document, string? errorCode)
            {
                Document = document;
                ErrorCode = errorCode;
            }

            public JsonDocument? Document { get; }

            /// <summary>Set when the call failed with one of the expected error codes (for example a "not found").</summary>
            public string? ErrorCode { get; }
        }
    }
}
