using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using EcrCache.Http;
using static EcrCache.Http.HttpMessages;

namespace EcrCache.Stores.Gar
{
    /// <summary>
    /// A thin client for the few Artifact Registry REST calls (v1) EcrCache needs: repositories get, create (a long-running
    /// operation, polled) and patch. Hand-written because the NuGet mirror has neither Google.Cloud.ArtifactRegistry.V1 nor
    /// gax/gRPC, and the surface is three JSON calls (docs/gar.md). Every call carries <c>Authorization: Bearer</c> with a
    /// token from <see cref="IGoogleAccessTokenSource"/>; 429, 5xx and transport failures are retried (3 attempts, jittered
    /// exponential backoff); every other failure is a coded ECRC16xx diagnostic that names the permission and role.
    /// Each attempt is logged at detail level as <c>GAR GetRepository projects/p/locations/l/repositories/r -> 200 (35 ms)</c>;
    /// bodies and headers never are.
    /// </summary>
    internal sealed class GarClient : RetryingApiClient<string>
    {
        public const int MaxAttempts = 3;

        private readonly IGoogleAccessTokenSource _tokens;

        // GAR retries itself (429/5xx/transport, see CallAsync).
        public GarClient(Uri endpoint, string project, IGoogleAccessTokenSource tokens, IBuildLog log, HttpMessageHandler? handler = null)
            : base("GAR", log, handler, decompress: true)
        {
            Endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
            Project = project ?? throw new ArgumentNullException(nameof(project));
            _tokens = tokens ?? throw new ArgumentNullException(nameof(tokens));
        }

        /// <summary>The API root, e.g. https://artifactregistry.googleapis.com/ (v1/... is appended).</summary>
        public Uri Endpoint { get; }

        /// <summary>The project, for the "enable the API" message.</summary>
        public string Project { get; }

        /// <summary>How often a create operation is polled, and for how long at most.</summary>
        public TimeSpan OperationPollInterval { get; set; } = TimeSpan.FromSeconds(1);

        public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromMinutes(2);

        /// <summary>GET v1/{name}: the repository, or null when it does not exist.</summary>
        public async Task<GarRepository?> GetRepositoryAsync(string name, CancellationToken cancellationToken)
        {
            var result = await CallAsync("GetRepository", HttpMethod.Get, name, "v1/" + name, null, notFoundIsResult: true, cancellationToken).ConfigureAwait(false);
            using var document = result;
            return document == null ? null : GarRepository.Parse(document.RootElement);
        }

        /// <summary>
        /// POST v1/{parent}/repositories?repositoryId=ID with format DOCKER, the labels and (when <paramref name="maxAgeDays"/>
        /// is above 0) EcrCache's cleanup policy for <paramref name="imagePath"/>; waits for the operation. Returns the repository, or null when it already
        /// exists (another build created it first).
        /// </summary>
        public async Task<GarRepository?> CreateRepositoryAsync(string parent, string repositoryId, IReadOnlyList<KeyValuePair<string, string>> labels, string imagePath, int maxAgeDays, CancellationToken cancellationToken, int keepCount = 0)
        {
            var name = parent + "/repositories/" + repositoryId;
            var body = JsonObject(w =>
            {
                w.WriteString("format", "DOCKER");
                w.WriteString("description", "Docker images cached by EcrCache (keyed by the content of their inputs).");
                if (labels.Count > 0)
                {
                    w.WritePropertyName("labels");
                    w.WriteStartObject();
                    foreach (var label in labels)
                    {
                        w.WriteString(label.Key, label.Value);
                    }

                    w.WriteEndObject();
                }

                if (maxAgeDays > 0)
                {
                    w.WritePropertyName("cleanupPolicies");
                    w.WriteStartObject();
                    w.WritePropertyName(GarCleanupPolicy.PolicyIdFor(imagePath));
                    GarCleanupPolicy.WriteExpiry(w, imagePath, maxAgeDays);
                    if (keepCount > 0)
                    {
                        w.WritePropertyName(GarCleanupPolicy.KeepPolicyIdFor(imagePath));
                        GarCleanupPolicy.WriteKeep(w, imagePath, keepCount);
                    }

                    w.WriteEndObject();
                    w.WriteBoolean("cleanupPolicyDryRun", false);
                }
            });

            JsonDocument? operation;
            try
            {
                operation = await CallAsync("CreateRepository", HttpMethod.Post, name, "v1/" + parent + "/repositories?repositoryId=" + Uri.EscapeDataString(repositoryId), body, notFoundIsResult: false, cancellationToken).ConfigureAwait(false);
            }
            catch (GarAlreadyExistsException)
            {
                return null;
            }

            using (operation)
            {
                await WaitForOperationAsync("CreateRepository", name, operation!, cancellationToken).ConfigureAwait(false);
            }

            return await GetRepositoryAsync(name, cancellationToken).ConfigureAwait(false)
                ?? throw new EcrCacheException(DiagnosticIds.GarRequestFailed, "CreateRepository", name, 200, "NOT_FOUND", "the repository was created but cannot be read back");
        }

        /// <summary>PATCH v1/{name}?updateMask=MASK with the given fields; returns the updated repository.</summary>
        public async Task<GarRepository> UpdateRepositoryAsync(string name, string updateMask, Action<Utf8JsonWriter> writeFields, CancellationToken cancellationToken)
        {
            var body = JsonObject(writeFields);
            using var document = await CallAsync("UpdateRepository", new HttpMethod("PATCH"), name, "v1/" + name + "?updateMask=" + Uri.EscapeDataString(updateMask), body, notFoundIsResult: false, cancellationToken).ConfigureAwait(false);
            return GarRepository.Parse(document!.RootElement);
        }

        /// <summary>The permission an operation needs and the predefined role that grants it (for ECRC1608).</summary>
        internal static (string permission, string role) Requirement(string operation) => operation switch
        {
            "GetRepository" => ("artifactregistry.repositories.get", "Artifact Registry Reader (roles/artifactregistry.reader)"),
            "CreateRepository" => ("artifactregistry.repositories.create", "Artifact Registry Administrator (roles/artifactregistry.admin) on the project, or create the repository beforehand"),
            "UpdateRepository" => ("artifactregistry.repositories.update", "Artifact Registry Administrator (roles/artifactregistry.admin), or a custom role with that permission"),
            "GetOperation" => ("artifactregistry.repositories.create", "Artifact Registry Administrator (roles/artifactregistry.admin)"),
            _ => ("artifactregistry.repositories.get", "Artifact Registry Reader (roles/artifactregistry.reader)"),
        };

        /// <summary>Google's JSON error: <c>{"error": {"code", "message", "status", "details": [{"reason": ...}]}}</c>.</summary>
        internal static (string? status, string? message, string? reason) ParseError(byte[]? body)
        {
            if (body == null || body.Length == 0)
            {
                return (null, null, null);
            }

            try
            {
                using var document = JsonDocument.Parse(body);
                var root = document.RootElement;
                if (root.ValueKind == JsonValueKind.Array && root.GetArrayLength() > 0)
                {
                    root = root[0];
                }

                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.Object)
                {
                    return (null, null, null);
                }

                string? reason = null;
                if (error.TryGetProperty("details", out var details) && details.ValueKind == JsonValueKind.Array)
                {
                    foreach (var detail in details.EnumerateArray())
                    {
                        reason ??= GarRepository.Str(detail, "reason");
                    }
                }

                return (GarRepository.Str(error, "status"), GarRepository.Str(error, "message"), reason);
            }
            catch (JsonException)
            {
                return (null, null, null);
            }
        }

        private async Task WaitForOperationAsync(string operationName, string resource, JsonDocument operation, CancellationToken cancellationToken)
        {
            var current = operation.RootElement.Clone();
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                if (current.TryGetProperty("done", out var done) && done.ValueKind == JsonValueKind.True)
                {
                    if (current.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
                    {
                        var status = GarRepository.Str(error, "status") ?? (error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Number ? "code " + c.GetRawText() : "UNKNOWN");
                        var message = GarRepository.Str(error, "message") ?? "no message";
                        if (status == "ALREADY_EXISTS" || status == "code 6")
                        {
                            return;
                        }

                        throw new EcrCacheException(DiagnosticIds.GarRequestFailed, operationName, resource, 200, status, TrimPeriod(message));
                    }

                    return;
                }

                var name = GarRepository.Str(current, "name");
                if (name == null)
                {
                    // Not an Operation (a server that answers with the repository itself): nothing to wait for.
                    return;
                }

                if (deadline.Elapsed > OperationTimeout)
                {
                    throw new EcrCacheException(DiagnosticIds.GarRequestFailed, operationName, resource, 200, "DEADLINE_EXCEEDED", "the operation " + name + " did not finish within " + OperationTimeout.TotalSeconds.ToString("0", CultureInfo.InvariantCulture) + " s");
                }

                await Task.Delay(OperationPollInterval, cancellationToken).ConfigureAwait(false);
                using var next = await CallAsync("GetOperation", HttpMethod.Get, name, "v1/" + name, null, notFoundIsResult: false, cancellationToken).ConfigureAwait(false);
                current = next!.RootElement.Clone();
            }
        }

        /// <summary>One call with retries: the parsed JSON answer, null for a 404 when <paramref name="notFoundIsResult"/>.</summary>
        private async Task<JsonDocument?> CallAsync(string operation, HttpMethod method, string resource, string relative, byte[]? body, bool notFoundIsResult, CancellationToken cancellationToken)
        {
            ThrowIfDisposed();
            var uri = new Uri(Endpoint, relative);
            var ((response, errorStatus, message, reason), _) = await SendWithRetriesAsync(
                operation,
                MaxAttempts,
                async token => CreateRequest(method, uri, body, await _tokens.GetAccessTokenAsync(token).ConfigureAwait(false)),
                attempt => Read(operation, resource, attempt),
                answer => RetryReason(answer.response, answer.message),
                cancellationToken).ConfigureAwait(false);
            if (response.IsSuccess)
            {
                try
                {
                    return ParseAnswer(response.Body);
                }
                catch (JsonException ex)
                {
                    throw new EcrCacheException(DiagnosticIds.GarRequestFailed, operation, resource, response.Status, "MALFORMED_RESPONSE", "the answer is not JSON: " + ex.Message);
                }
            }

            if (response.Status == 404 && notFoundIsResult)
            {
                return null;
            }

            throw Map(operation, resource, response.Status, errorStatus, reason, message);
        }

        /// <summary>429, 5xx and transport failures are worth another attempt; returns why (for the log), else null.</summary>
        private static string? RetryReason(ApiResponse response, string message)
        {
            var status = response.Status;
            if (status != 0 && status != 429 && status < 500)
            {
                return null;
            }

            return (status == 0 ? "transport failure" : "HTTP " + status.ToString(CultureInfo.InvariantCulture)) + " (" + message + ")";
        }

        private Exception Map(string operation, string resource, int status, string? errorStatus, string? reason, string message)
        {
            if (status == 0)
            {
                return new EcrCacheException(DiagnosticIds.GarUnreachable, Display(Endpoint), operation, message);
            }

            if ((status == 409 || errorStatus == "ALREADY_EXISTS") && operation == "CreateRepository")
            {
                return new GarAlreadyExistsException();
            }

            if (status == 401 || errorStatus == "UNAUTHENTICATED")
            {
                return new EcrCacheException(DiagnosticIds.GarCredentialsRejected, _tokens.Description, "Artifact Registry answered " + operation + " with HTTP 401 " + (errorStatus ?? string.Empty) + ": " + message);
            }

            if (reason == "SERVICE_DISABLED" || reason == "API_DISABLED"
                || (status == 403 && (message.IndexOf("has not been used in project", StringComparison.OrdinalIgnoreCase) >= 0 || message.IndexOf("is disabled", StringComparison.OrdinalIgnoreCase) >= 0)))
            {
                return new EcrCacheException(DiagnosticIds.GarApiDisabled, Project, message);
            }

            if (status == 403 || errorStatus == "PERMISSION_DENIED")
            {
                var (permission, role) = Requirement(operation);
                return new EcrCacheException(DiagnosticIds.GarPermissionDenied, operation, resource, permission, role, message, _tokens.Description);
            }

            if ((status == 400 || status == 404) && message.IndexOf("location", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                var location = resource.Split('/');
                return new EcrCacheException(DiagnosticIds.BadGarLocation, location.Length > 3 ? location[3] : resource, "Artifact Registry answered " + operation + ": " + message);
            }

            return new EcrCacheException(DiagnosticIds.GarRequestFailed, operation, resource, status, errorStatus ?? reason ?? "UNKNOWN", message);
        }

        private HttpRequestMessage CreateRequest(HttpMethod method, Uri uri, byte[]? body, string token)
        {
            var request = new HttpRequestMessage(method, uri);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (_tokens is IGoogleQuotaProject quota && quota.QuotaProject != null)
            {
                // What Google's client libraries send for credentials with a quota_project_id (gcloud user ADC files).
                request.Headers.TryAddWithoutValidation("x-goog-user-project", quota.QuotaProject);
            }

            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (body != null)
            {
                var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Content = content;
            }

            return request;
        }

        /// <summary>Google's error status, message and reason of a failed attempt; records the attempt.</summary>
        private (ApiResponse response, string? errorStatus, string message, string? reason) Read(string operation, string resource, ApiResponse response)
        {
            var status = response.Status == 0 ? "failed" : response.Status.ToString(CultureInfo.InvariantCulture);
            Record(operation + " -> " + status, "GAR " + operation + " " + resource + " -> " + status + " (" + response.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture) + " ms)");
            if (response.IsSuccess)
            {
                return (response, null, string.Empty, null);
            }

            var (errorStatus, message, reason) = ParseError(response.Body);
            return (response, errorStatus, TrimPeriod(message ?? response.TransportError ?? "no message"), reason);
        }

        private static string TrimPeriod(string message)
        {
            message = message.Replace('\r', ' ').Replace('\n', ' ').Trim().TrimEnd('.');
            return message.Length > 600 ? message.Substring(0, 600) + "..." : message;
        }

        /// <summary>CreateRepository answered ALREADY_EXISTS (a concurrent build won the race).</summary>
        private sealed class GarAlreadyExistsException : Exception
        {
        }
    }
}
