using System.Net.Http.Headers;

namespace EcrCache.Registries.Oci
{
    /// <summary>
    /// The blob endpoints the client needs: a small blob pushed in one piece (HEAD to skip one the registry has, then
    /// the monolithic upload: <c>POST /v2/&lt;repo&gt;/blobs/uploads/</c> and <c>PUT &lt;location&gt;?digest=</c>).
    /// </summary>
    internal sealed class BlobOperations(RegistryHttp http)
    {
        private readonly RegistryHttp _http = http;

        /// <summary>Uploads <paramref name="content"/> unless the registry has it. A byte array, so every attempt (and retry) can resend it.</summary>
        public async Task PushAsync(string repository, byte[] content, CancellationToken cancellationToken)
        {
            if (!OciNames.IsRepository(repository))
            {
                throw new EcrCacheException(DiagnosticIds.BadRepositoryName, repository);
            }

            var digest = OciDigest.Compute(content);
            var head = await _http.SendAsync(HttpMethod.Head, "v2/" + repository + "/blobs/" + digest, repository, null, 0, cancellationToken).ConfigureAwait(false);
            if (head.Status == 200)
            {
                return;
            }

            var uploads = "v2/" + repository + "/blobs/uploads/";
            var start = await _http.SendAsync(HttpMethod.Post, uploads, repository, null, RegistryHttp.MaxErrorBodyBytes, cancellationToken, () => new ByteArrayContent(new byte[0])).ConfigureAwait(false);
            if (start.Status != 202 || start.Location == null)
            {
                throw _http.Unexpected(start, "POST /" + uploads);
            }

            var location = start.Location.ToString();
            var target = location + (location.IndexOf('?') >= 0 ? "&" : "?") + "digest=" + Uri.EscapeDataString(digest);
            var put = await _http.SendAsync(HttpMethod.Put, target, repository, null, RegistryHttp.MaxErrorBodyBytes, cancellationToken, () =>
            {
                var body = new ByteArrayContent(content);
                body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                return body;
            }).ConfigureAwait(false);
            if (put.Status != 201 && put.Status != 204)
            {
                throw _http.Unexpected(put, "PUT blob " + digest);
            }
        }
    }
}
