using System.Net.Sockets;
using System.Text;

namespace EcrCache.Tasks.Tests.Exports
{
    /// <summary>
    /// A stand-in for the Buildkite agent's Job API. There is no real buildkite-agent on the test machines, so this
    /// listens on a unix socket in a temp directory, reads one HTTP/1.1 request (request line, headers and a
    /// Content-Length body), records it and sends back a canned response, then closes the connection.
    /// </summary>
    internal sealed class FakeJobApiServer : IDisposable
    {
        private readonly Socket listener;
        private readonly Task<RecordedRequest?> serving;
        private readonly CancellationTokenSource stop = new CancellationTokenSource();
        private int connections;

        public FakeJobApiServer(string socketPath, int status, string responseBody, bool neverAnswer = false)
        {
            SocketPath = socketPath;
            listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(socketPath));
            listener.Listen(4);
            serving = Task.Run(() => ServeOneAsync(status, responseBody, neverAnswer));
        }

        public string SocketPath { get; }

        public int Connections => Volatile.Read(ref connections);

        /// <summary>The request the server received (waits up to 10 s for it).</summary>
        public async Task<RecordedRequest> GetRequestAsync()
        {
            var finished = await Task.WhenAny(serving, Task.Delay(TimeSpan.FromSeconds(10)));
            Assert.AreSame(serving, finished, "the fake Job API server did not receive a request");
            return await serving ?? throw new AssertFailedException("the fake Job API server received no request");
        }

        public void Dispose()
        {
            stop.Cancel();
            listener.Dispose();
            try
            {
                File.Delete(SocketPath);
            }
            catch (IOException)
            {
            }
        }

        private async Task<RecordedRequest?> ServeOneAsync(int status, string responseBody, bool neverAnswer)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync(stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException || ex is ObjectDisposedException || ex is SocketException)
            {
                return null;
            }

            Interlocked.Increment(ref connections);
            using (connection)
            using (var stream = new NetworkStream(connection, ownsSocket: false))
            {
                var head = await ReadHeadAsync(stream);
                var lines = head.Split("\r\n");
                var requestLine = lines[0].Split(' ');
                var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
                {
                    var colon = line.IndexOf(':');
                    headers[line.Substring(0, colon).Trim()] = line.Substring(colon + 1).Trim();
                }

                var body = Array.Empty<byte>();
                if (headers.TryGetValue("Content-Length", out var lengthText))
                {
                    body = new byte[int.Parse(lengthText)];
                    await stream.ReadExactlyAsync(body);
                }

                var request = new RecordedRequest(requestLine[0], requestLine[1], requestLine[2], headers, Encoding.UTF8.GetString(body));
                if (neverAnswer)
                {
                    try
                    {
                        await Task.Delay(Timeout.Infinite, stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }

                    return request;
                }

                var payload = Encoding.UTF8.GetBytes(responseBody);
                var reason = status == 200 ? "OK" : status == 401 ? "Unauthorized" : "Error";
                var responseHead = $"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {payload.Length}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(responseHead));
                await stream.WriteAsync(payload);
                await stream.FlushAsync();
                connection.Shutdown(SocketShutdown.Send);
                return request;
            }
        }

        private static async Task<string> ReadHeadAsync(Stream stream)
        {
            var bytes = new List<byte>();
            var one = new byte[1];
            while (bytes.Count < 4 || !(bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n'))
            {
                if (await stream.ReadAsync(one) == 0)
                {
                    throw new EndOfStreamException("connection closed inside the request head");
                }

                bytes.Add(one[0]);
            }

            return Encoding.ASCII.GetString(bytes.ToArray(), 0, bytes.Count - 4);
        }
    }

    internal sealed record RecordedRequest(string Method, string Target, string Version, IReadOnlyDictionary<string, string> Headers, string Body);
}
