using System.Text.Json;
using EcrCache.Http;

#if !NETFRAMEWORK
using System.Net.Http.Headers;
using System.Net.Sockets;
#endif

namespace EcrCache.Exports
{
    /// <summary>
    /// Client for the Buildkite agent's internal Job API (agent 3.64 or later): an HTTP/1.1 server on a unix socket
    /// whose path and bearer token the agent hands to the job in <c>BUILDKITE_AGENT_JOB_API_SOCKET</c> and
    /// <c>BUILDKITE_AGENT_JOB_API_TOKEN</c>. Setting variables through it makes them visible to the rest of the job
    /// (later hooks and the command), which a child process such as MSBuild cannot do by itself.
    /// </summary>
    /// <remarks>
    /// <c>PATCH /api/current-job/v0/env</c> takes <c>{"env":{"NAME":"value"}}</c> and answers 200 with
    /// <c>{"added":[…],"updated":[…]}</c>; errors come back as a non-2xx status with <c>{"error":"…"}</c>
    /// (401 for a bad token, 422 for protected variables such as BUILDKITE_AGENT_ACCESS_TOKEN).
    /// The token is sent only in the Authorization header and never appears in messages or <see cref="ToString"/>.
    /// </remarks>
    internal sealed class BuildkiteJobApi
    {
        public const string SocketVariable = "BUILDKITE_AGENT_JOB_API_SOCKET";
        public const string TokenVariable = "BUILDKITE_AGENT_JOB_API_TOKEN";
        public const string EnvPath = "/api/current-job/v0/env";

        private const int MaxBodyInMessage = 200;

        /// <summary>Retries for the Job API: 3 attempts within 3 s (the request body is a buffered byte array).</summary>
        internal static readonly EcrCache.Http.HttpRetryPolicy JobApiRetry = new EcrCache.Http.HttpRetryPolicy
        {
            MaxAttempts = 3,
            BaseDelay = TimeSpan.FromMilliseconds(200),
            MaxDelay = TimeSpan.FromSeconds(1),
            Deadline = TimeSpan.FromSeconds(3),
        };

        private readonly string token;

        public BuildkiteJobApi(string socketPath, string token)
        {
            if (string.IsNullOrEmpty(socketPath))
            {
                throw new ArgumentException("The Job API socket path is empty.", nameof(socketPath));
            }

            if (string.IsNullOrEmpty(token))
            {
                throw new ArgumentException("The Job API token is empty.", nameof(token));
            }

            SocketPath = socketPath;
            this.token = token;
        }

        /// <summary>Path of the agent's unix socket (not secret).</summary>
        public string SocketPath { get; }

        /// <summary>How long one request may take, connection included. 10 seconds.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>False on .NET Framework, whose HttpClient cannot talk over a unix socket.</summary>
        public static bool IsSupported =>
#if NETFRAMEWORK
            false;
#else
            true;
#endif

        /// <summary>
        /// The Job API of the current job, or null unless both <see cref="SocketVariable"/> and
        /// <see cref="TokenVariable"/> are set to non-empty values.
        /// </summary>
        public static BuildkiteJobApi? FromEnvironment(Func<string, string?> env)
        {
            if (env == null)
            {
                throw new ArgumentNullException(nameof(env));
            }

            var socket = env(SocketVariable);
            var token = env(TokenVariable);
            if (string.IsNullOrEmpty(socket) || string.IsNullOrEmpty(token))
            {
                return null;
            }

            return new BuildkiteJobApi(socket!, token!);
        }

        /// <summary>
        /// The one detail line to log when <see cref="FromEnvironment"/> found no Job API, so that a user who expected
        /// the variables in later phases of the job can see why they are only in the env file.
        /// </summary>
        public static string DescribeAbsence(Func<string, string?> env)
        {
            if (env == null)
            {
                throw new ArgumentNullException(nameof(env));
            }

            var hasSocket = !string.IsNullOrEmpty(env(SocketVariable));
            var hasToken = !string.IsNullOrEmpty(env(TokenVariable));
            var which = hasSocket == hasToken
                ? SocketVariable + " and " + TokenVariable + " are not set"
                : (hasSocket ? TokenVariable : SocketVariable) + " is not set (only " + (hasSocket ? SocketVariable : TokenVariable) + " is)";
            return "Not exporting through the Buildkite Job API: " + which
                + " (not a Buildkite job, an agent before 3.64, or the Job API turned off with --no-job-api / BUILDKITE_AGENT_NO_JOB_API); "
                + "later phases of the job see the variables only if they source the env file.";
        }

        /// <summary>
        /// Sets (adds or overwrites) the variables in the environment of the current job. Does nothing for an empty
        /// dictionary.
        /// </summary>
        /// <exception cref="EcrCacheException">
        /// <see cref="DiagnosticIds.JobApiFailed"/> when the socket cannot be reached, the request times out or the
        /// agent answers with a non-2xx status; <see cref="DiagnosticIds.JobApiUnsupported"/> on .NET Framework.
        /// </exception>
        /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
        public async Task SetEnvAsync(IReadOnlyDictionary<string, string> variables, CancellationToken cancellationToken)
        {
            if (variables == null)
            {
                throw new ArgumentNullException(nameof(variables));
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (variables.Count == 0)
            {
                return;
            }

            var body = BuildEnvRequestBody(variables);
#if NETFRAMEWORK
            await Task.CompletedTask.ConfigureAwait(false);
            throw new EcrCacheException(DiagnosticIds.JobApiUnsupported, ".NET Framework");
#else
            await SendAsync(HttpMethod.Patch, EnvPath, body, cancellationToken).ConfigureAwait(false);
#endif
        }

        public override string ToString() => "Buildkite Job API at " + SocketPath;

        /// <summary>The JSON body of the PATCH request: <c>{"env":{"NAME":"value",…}}</c>, UTF-8.</summary>
        internal static byte[] BuildEnvRequestBody(IReadOnlyDictionary<string, string> variables)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WritePropertyName("env");
                writer.WriteStartObject();
                foreach (var pair in variables)
                {
                    if (string.IsNullOrEmpty(pair.Key))
                    {
                        throw new ArgumentException("A variable name is empty.", nameof(variables));
                    }

                    // The agent rejects null values on this endpoint (null would mean "unset").
                    writer.WriteString(pair.Key, pair.Value ?? throw new ArgumentException("The variable '" + pair.Key + "' has no value.", nameof(variables)));
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            return buffer.ToArray();
        }

        /// <summary>The detail text of a JobApiFailed error for an HTTP error answer.</summary>
        internal static string DescribeFailure(int statusCode, string? body)
        {
            var text = (body ?? string.Empty).Trim();
            if (text.Length > MaxBodyInMessage)
            {
                text = text.Substring(0, MaxBodyInMessage);
            }

            return "HTTP " + statusCode.ToString(System.Globalization.CultureInfo.InvariantCulture) + ": " + text;
        }

#if !NETFRAMEWORK
        private async Task SendAsync(HttpMethod method, string path, byte[] body, CancellationToken cancellationToken)
        {
            var socketPath = SocketPath;
            using var handler = new SocketsHttpHandler
            {
                UseProxy = false,
                UseCookies = false,
                AllowAutoRedirect = false,
                ConnectTimeout = Timeout,
                ConnectCallback = async (context, ct) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    try
                    {
                        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
            };
            // Through the shared seam: a briefly busy agent (5xx, a refused connection while it restarts the API) is
            // retried, within a short deadline so that a missing socket still fails fast with its own message.
            using var client = EcrCache.Http.HttpClients.Create(handler, retry: JobApiRetry);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);

            // The host is a placeholder: every connection goes to the socket.
            using var request = new HttpRequestMessage(method, new Uri("http://localhost" + path))
            {
                Version = new Version(1, 1),
                Content = new ByteArrayContent(body),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (!IsHeaderSafe(token) || !request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token))
            {
                throw Failed("the token in " + TokenVariable + " is not a valid HTTP header value");
            }

            HttpResponseMessage response;
            string responseBody;
            try
            {
                response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
                responseBody = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw Failed("no answer within " + Timeout.TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture) + " s");
            }
            catch (HttpRequestException ex)
            {
                throw Failed(Describe(ex), ex);
            }
            catch (Exception ex) when (ex is IOException || ex is SocketException || ex is ArgumentOutOfRangeException)
            {
                // ArgumentOutOfRangeException: the socket path is longer than the OS allows (about 108 bytes).
                throw Failed(ex.Message.TrimEnd('.', ' '), ex);
            }

            using (response)
            {
                var status = (int)response.StatusCode;
                if (status < 200 || status > 299)
                {
                    throw Failed(DescribeFailure(status, responseBody));
                }
            }
        }

        private static bool IsHeaderSafe(string value)
        {
            foreach (var c in value)
            {
                if (c < '!' || c > '~')
                {
                    return false;
                }
            }

            return true;
        }

        private static string Describe(HttpRequestException ex) => HttpMessages.Innermost(ex).Message.TrimEnd('.', ' ');
#endif

        private EcrCacheException Failed(string detail, Exception? inner = null) =>
            new EcrCacheException(Diagnostic.Create(DiagnosticIds.JobApiFailed, SocketPath, detail), inner);
    }
}
