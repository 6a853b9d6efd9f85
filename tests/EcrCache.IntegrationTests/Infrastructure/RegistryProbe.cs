using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace EcrCache.IntegrationTests.Infrastructure;

/// <summary>Asks a registry directly (not through EcrCache) whether a manifest exists.</summary>
public static class RegistryProbe
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>HEAD http://host/v2/repo/manifests/tag; returns the HTTP status (basic auth when a user is given).</summary>
    public static HttpStatusCode HeadManifest(string registry, string repository, string tag, string? user = null, string? password = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, $"http://{registry}/v2/{repository}/manifests/{tag}");
        foreach (var type in new[]
                 {
                     "application/vnd.docker.distribution.manifest.v2+json",
                     "application/vnd.docker.distribution.manifest.list.v2+json",
                     "application/vnd.oci.image.manifest.v1+json",
                     "application/vnd.oci.image.index.v1+json",
                 })
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
        }

        if (user != null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password)));
        }

        using var response = Http.Send(request);
        return response.StatusCode;
    }

    /// <summary>HEAD of the manifest: its Docker-Content-Digest, or null when the registry answers 404.</summary>
    public static string? ManifestDigest(string registry, string repository, string tag)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, $"http://{registry}/v2/{repository}/manifests/{tag}");
        foreach (var type in new[]
                 {
                     "application/vnd.docker.distribution.manifest.v2+json",
                     "application/vnd.docker.distribution.manifest.list.v2+json",
                     "application/vnd.oci.image.manifest.v1+json",
                     "application/vnd.oci.image.index.v1+json",
                 })
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
        }

        using var response = Http.Send(request);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.First() : throw new InvalidOperationException("HEAD of " + repository + ":" + tag + " gave no Docker-Content-Digest");
    }

    /// <summary>The number of access-log lines of a distribution registry that name <paramref name="repository"/>.</summary>
    public static int CountAccessLogRequests(string logPath, string repository)
    {
        if (!File.Exists(logPath))
        {
            return 0;
        }

        using var stream = new FileStream(logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var count = 0;
        string? line;
        while ((line = reader.ReadLine()) != null)
        {
            if (line.StartsWith("127.0.0.1 - - [", StringComparison.Ordinal) && line.Contains(repository, StringComparison.Ordinal))
            {
                count++;
            }
        }

        return count;
    }
}
