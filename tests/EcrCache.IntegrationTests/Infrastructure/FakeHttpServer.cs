using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EcrCache.IntegrationTests.Infrastructure;

/// <summary>One request a <see cref="FakeHttpServer"/> received.</summary>
public sealed class FakeRequest
{
    public FakeRequest(string method, string target, IReadOnlyDictionary<string, string> headers, byte[] body)
    {
        Method = method;
        Target = target;
        Headers = headers;
        Body = body;
    }

    public string Method { get; }

    /// <summary>The request target as sent (path and query).</summary>
    public string Target { get; }

    public string Path => Target.Split('?')[0];

    /// <summary>Headers, names case-insensitive (the last one wins).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    public byte[] Body { get; }

    public string BodyText => Encoding.UTF8.GetString(Body);

    public override string ToString() => Method + " " + Target;
}

public sealed class FakeResponse
{
    public FakeResponse(int status, string body = "", string contentType = "application/json", IDictionary<string, string>? headers = null)
    {
        Status = status;
        Body = body;
        ContentType = contentType;
        Headers = headers ?? new Dictionary<string, string>();
    }

    public int Status { get; }

    public string Body { get; }

    public string ContentType { get; }

    public IDictionary<string, string> Headers { get; }
}

/// <summary>
/// A minimal HTTP/1.1 server on a TCP port (127.0.0.1) or a unix socket, for playing the Buildkite agent's Job API
/// or a registry that refuses pushes. One request per connection (it answers with Connection: close); every request
/// is recorded. Anything that is not HTTP (a TLS hello, say) just gets the connection closed.
/// </summary>
public sealed class FakeHttpServer : IDisposable
{
    private readonly Socket _listener;
    private readonly Func<FakeRequest, FakeResponse> _handler;
    private readonly List<FakeRequest> _requests = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    private FakeHttpServer(Socket listener, Func<FakeRequest, FakeResponse> handler, string address)
    {
        _listener = listener;
        _handler = handler;
        Address = address;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>host:port for TCP, or the socket path.</summary>
    public string Address { get; }

    public IReadOnlyList<FakeRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return _requests.ToList();
            }
        }
    }

    public static FakeHttpServer StartTcp(Func<FakeRequest, FakeResponse> handler)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen(64);
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        return new FakeHttpServer(socket, handler, "127.0.0.1:" + port);
    }

    public static FakeHttpServer StartUnix(string socketPath, Func<FakeRequest, FakeResponse> handler)
    {
        if (File.Exists(socketPath))
        {
            File.Delete(socketPath);
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        socket.Listen(16);
        return new FakeHttpServer(socket, handler, socketPath);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        try
        {
            _acceptLoop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        if (_listener.AddressFamily == AddressFamily.Unix)
        {
            try
            {
                File.Delete(Address);
            }
            catch (IOException)
            {
            }
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            _ = Task.Run(() => HandleAsync(client));
        }
    }

    private async Task HandleAsync(Socket client)
    {
        using (client)
        using (var stream = new NetworkStream(client, ownsSocket: false))
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                var request = await ReadRequestAsync(stream, timeout.Token);
                if (request == null)
                {
                    return;
                }

                lock (_requests)
                {
                    _requests.Add(request);
                }

                FakeResponse response;
                try
                {
                    response = _handler(request);
                }
                catch (Exception ex)
                {
                    response = new FakeResponse(500, "{\"error\":\"test handler failed: " + ex.GetType().Name + "\"}");
                }

                var body = Encoding.UTF8.GetBytes(response.Body);
                var head = new StringBuilder();
                head.Append("HTTP/1.1 ").Append(response.Status).Append(' ').Append(Reason(response.Status)).Append("\r\n");
                head.Append("Content-Type: ").Append(response.ContentType).Append("\r\n");
                head.Append("Content-Length: ").Append(request.Method == "HEAD" ? 0 : body.Length).Append("\r\n");
                foreach (var pair in response.Headers)
                {
                    head.Append(pair.Key).Append(": ").Append(pair.Value).Append("\r\n");
                }

                head.Append("Connection: close\r\n\r\n");
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), timeout.Token);
                if (request.Method != "HEAD")
                {
                    await stream.WriteAsync(body, timeout.Token);
                }

                await stream.FlushAsync(timeout.Token);
                client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is IOException || ex is SocketException || ex is OperationCanceledException || ex is ObjectDisposedException || ex is FormatException)
            {
                // The peer went away or spoke something else than HTTP.
            }
        }
    }

    private static async Task<FakeRequest?> ReadRequestAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int headerEnd;
        while ((headerEnd = IndexOf(buffer.GetBuffer(), (int)buffer.Length, "\r\n\r\n"u8)) < 0)
        {
            if (buffer.Length > 64 * 1024)
            {
                return null;
            }

            var n = await stream.ReadAsync(chunk, cancellationToken);
            if (n == 0)
            {
                return null;
            }

            buffer.Write(chunk, 0, n);
            if (buffer.Length >= 3 && !IsTokenStart(buffer.GetBuffer()[0]))
            {
                return null; // e.g. a TLS ClientHello
            }
        }

        var all = buffer.ToArray();
        var headerText = Encoding.ASCII.GetString(all, 0, headerEnd);
        var lines = headerText.Split("\r\n");
        var requestLine = lines[0].Split(' ');
        if (requestLine.Length < 3 || !requestLine[2].StartsWith("HTTP/", StringComparison.Ordinal))
        {
            return null;
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon > 0)
            {
                headers[line.Substring(0, colon).Trim()] = line.Substring(colon + 1).Trim();
            }
        }

        var rest = new MemoryStream();
        rest.Write(all, headerEnd + 4, all.Length - headerEnd - 4);
        byte[] body;
        if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = await ReadChunkedAsync(stream, rest, chunk, cancellationToken);
        }
        else
        {
            var length = headers.TryGetValue("Content-Length", out var cl) ? long.Parse(cl, System.Globalization.CultureInfo.InvariantCulture) : 0;
            while (rest.Length < length)
            {
                var n = await stream.ReadAsync(chunk, cancellationToken);
                if (n == 0)
                {
                    break;
                }

                rest.Write(chunk, 0, n);
            }

            body = rest.ToArray();
        }

        return new FakeRequest(requestLine[0], requestLine[1], headers, body);
    }

    private static async Task<byte[]> ReadChunkedAsync(Stream stream, MemoryStream pending, byte[] chunk, CancellationToken cancellationToken)
    {
        var body = new MemoryStream();
        var data = pending.ToArray().ToList();
        async Task<bool> Fill(int needed)
        {
            while (data.Count < needed)
            {
                var n = await stream.ReadAsync(chunk, cancellationToken);
                if (n == 0)
                {
                    return false;
                }

                data.AddRange(chunk.Take(n));
            }

            return true;
        }

        while (true)
        {
            int lineEnd;
            while ((lineEnd = IndexOf(data.ToArray(), data.Count, "\r\n"u8)) < 0)
            {
                if (!await Fill(data.Count + 1))
                {
                    return body.ToArray();
                }
            }

            var sizeText = Encoding.ASCII.GetString(data.ToArray(), 0, lineEnd).Split(';')[0].Trim();
            var size = Convert.ToInt32(sizeText, 16);
            data.RemoveRange(0, lineEnd + 2);
            if (size == 0)
            {
                return body.ToArray();
            }

            if (!await Fill(size + 2))
            {
                return body.ToArray();
            }

            body.Write(data.Take(size).ToArray());
            data.RemoveRange(0, size + 2);
        }
    }

    private static bool IsTokenStart(byte b) => b >= 'A' && b <= 'Z';

    private static int IndexOf(byte[] haystack, int length, ReadOnlySpan<byte> needle) =>
        haystack.AsSpan(0, length).IndexOf(needle);

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        _ => "Status",
    };
}
