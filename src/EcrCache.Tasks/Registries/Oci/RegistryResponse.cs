using System.Text.Json;

namespace EcrCache.Registries.Oci
{
    /// <summary>
    /// What one registry or token-server exchange answered: the status, the headers the client uses and at most a
    /// limited number of body bytes (the HttpResponseMessage itself is disposed once this is read).
    /// </summary>
    internal sealed class RegistryResponse
    {
        public RegistryResponse(int status, string? reason)
        {
            Status = status;
            Reason = reason;
        }

        public int Status { get; }

        public string? Reason { get; }

        /// <summary>Docker-Content-Digest, trimmed; null when the registry sent none.</summary>
        public string? Digest { get; private set; }

        public string? ContentType { get; private set; }

        public long? ContentLength { get; private set; }

        /// <summary>The Location header, made absolute against the request's URL.</summary>
        public Uri? Location { get; private set; }

        public byte[]? Body { get; private set; }

        /// <summary>The body was longer than the limit it was read with (<see cref="Body"/> holds the first bytes).</summary>
        public bool BodyTruncated { get; private set; }

        /// <summary>The headers of <paramref name="message"/> (the body is read separately, <see cref="ReadBodyAsync"/>).</summary>
        public static RegistryResponse FromHeaders(HttpResponseMessage message, Uri requestUri)
        {
            var response = new RegistryResponse((int)message.StatusCode, message.ReasonPhrase);
            if (message.Headers.TryGetValues("Docker-Content-Digest", out var digests))
            {
                foreach (var d in digests)
                {
                    response.Digest = d.Trim();
                    break;
                }
            }

            if (message.Headers.Location != null)
            {
                response.Location = message.Headers.Location.IsAbsoluteUri ? message.Headers.Location : new Uri(requestUri, message.Headers.Location);
            }

            var contentHeaders = message.Content?.Headers;
            response.ContentType = contentHeaders?.ContentType?.MediaType;
            response.ContentLength = contentHeaders?.ContentLength;
            return response;
        }

        /// <summary>Reads at most <paramref name="limit"/> bytes of <paramref name="content"/> into <see cref="Body"/>.</summary>
        public async Task ReadBodyAsync(HttpContent content, int limit, CancellationToken cancellationToken)
        {
#if NETFRAMEWORK
            using var stream = await content.ReadAsStreamAsync().ConfigureAwait(false);
#else
            using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
#endif
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            while (true)
            {
                var read = await stream.ReadAsync(chunk, 0, chunk.Length, cancellationToken).ConfigureAwait(false);
                if (read <= 0)
                {
                    break;
                }

                var room = limit - (int)buffer.Length;
                if (read > room)
                {
                    buffer.Write(chunk, 0, Math.Max(room, 0));
                    BodyTruncated = true;
                    break;
                }

                buffer.Write(chunk, 0, read);
            }

            Body = buffer.ToArray();
        }

        /// <summary>ECRC1303 for <paramref name="operation"/> on <paramref name="host"/>, with the registry's own error text.</summary>
        public EcrCacheException Unexpected(string host, string operation)
        {
            var detail = ErrorDetail() ?? string.Empty;
            if (detail.Length == 0)
            {
                detail = Reason ?? string.Empty;
            }

            if (detail.Length > 0 && !detail.EndsWith(".", StringComparison.Ordinal))
            {
                detail += ".";
            }

            return new EcrCacheException(DiagnosticIds.RegistryUnexpectedStatus, host, Status, operation, detail);
        }

        /// <summary>The registry's error list (<c>{"errors":[{"code":..,"message":..}]}</c>) as text, or null.</summary>
        public string? ErrorDetail()
        {
            if (Body == null || Body.Length == 0)
            {
                return null;
            }

            try
            {
                using var document = JsonDocument.Parse(Body);
                if (document.RootElement.ValueKind != JsonValueKind.Object
                    || !document.RootElement.TryGetProperty("errors", out var errors)
                    || errors.ValueKind != JsonValueKind.Array)
                {
                    return null;
                }

                var parts = new List<string>();
                foreach (var error in errors.EnumerateArray())
                {
                    if (error.ValueKind != JsonValueKind.Object)
                    {
                        continue;
                    }

                    var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                    var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                    parts.Add(code != null && message != null ? code + ": " + message : code ?? message ?? "?");
                }

                return parts.Count == 0 ? null : string.Join("; ", parts);
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }
}
