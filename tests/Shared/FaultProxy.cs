using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace EcrCache.TestSupport
{
    /// <summary>What the proxy does to one request.</summary>
    public enum FaultKind
    {
        None,
        ServiceUnavailable,
        TooManyRequests,
        Reset,
        Latency,
        InternalError,
    }

    /// <summary>
    /// A small fault-injecting HTTP/1.1 proxy for tests: listens on 127.0.0.1 (which dockerd treats as an insecure
    /// registry that may be spoken to over plain http), reads each request's head, and either answers it with a fault
    /// (503 or 429 with Retry-After, a connection reset, a delay before forwarding) or forwards it to the real
    /// upstream with <c>Connection: close</c>, so that every request arrives on its own connection and gets its own
    /// decision. The body is streamed through unparsed in both directions (chunked uploads included).
    /// <see cref="Decide"/> chooses per request; <see cref="Log"/> records every decision.
    /// </summary>
    public sealed class FaultProxy : IDisposable
    {
        private readonly TcpListener _listener;
        private readonly string _upstreamHost;
        private readonly int _upstreamPort;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly Task _acceptLoop;

        public FaultProxy(string upstream)
        {
            var colon = upstream.LastIndexOf(':');
            _upstreamHost = upstream.Substring(0, colon);
            _upstreamPort = int.Parse(upstream.Substring(colon + 1), System.Globalization.CultureInfo.InvariantCulture);
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            _acceptLoop = Task.Run(AcceptLoopAsync);
        }

        /// <summary>127.0.0.1:port of the proxy.</summary>
        public string Address => "127.0.0.1:" + ((IPEndPoint)_listener.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>Decides the fault for a request ("PUT /v2/x/manifests/1"); default: none.</summary>
        public Func<string, string, FaultKind> Decide { get; set; } = (_, _) => FaultKind.None;

        public TimeSpan Latency { get; set; } = TimeSpan.FromMilliseconds(300);

        /// <summary>Every request seen: method, path and the fault applied.</summary>
        public ConcurrentQueue<(string Method, string Path, FaultKind Fault)> Log { get; } = new ConcurrentQueue<(string, string, FaultKind)>();

        /// <summary>
        /// A decision function for transient faults: each request fails with probability <paramref name="rate"/>, as
        /// 503, 429, a reset or added latency, except that an operation (method and path, upload session ids ignored)
        /// that has already failed once goes through from then on: the fault was transient. Seeded, so a run is
        /// reproducible up to request ordering.
        /// </summary>
        public static Func<string, string, FaultKind> Random(double rate, int seed)
        {
            var random = new Random(seed);
            var failedOnce = new HashSet<string>();
            var kinds = new[] { FaultKind.ServiceUnavailable, FaultKind.TooManyRequests, FaultKind.Reset, FaultKind.Latency };
            return (method, path) =>
            {
                lock (random)
                {
                    // Upload sessions get a fresh id per attempt: one operation, whatever its id.
                    var uploads = path.IndexOf("/blobs/uploads/", StringComparison.Ordinal);
                    var key = method + " " + (uploads >= 0 ? path.Substring(0, uploads) + "/blobs/uploads/*" : path);
                    if (failedOnce.Contains(key) || random.NextDouble() >= rate)
                    {
                        return FaultKind.None;
                    }

                    var kind = kinds[random.Next(kinds.Length)];
                    if (kind != FaultKind.Latency)
                    {
                        failedOnce.Add(key);
                    }

                    return kind;
                }
            };
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            try
            {
                _acceptLoop.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
            }
        }

        private async Task AcceptLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (Exception) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (SocketException)
                {
                    // E.g. a client that gave up before the accept (ECONNABORTED): keep serving.
                    continue;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }

                _ = Task.Run(() => HandleAsync(client));
            }
        }

        private async Task HandleAsync(TcpClient client)
        {
            using (client)
            {
                try
                {
                    var downstream = client.GetStream();
                    var (head, rest) = await ReadHeadAsync(downstream).ConfigureAwait(false);
                    if (head == null)
                    {
                        return;
                    }

                    var firstLine = head.Substring(0, head.IndexOf("\r\n", StringComparison.Ordinal));
                    var parts = firstLine.Split(' ');
                    var method = parts[0];
                    var path = parts.Length > 1 ? parts[1].Split('?')[0] : "/";
                    var fault = Decide(method, path);
                    Log.Enqueue((method, path, fault));
                    switch (fault)
                    {
                        case FaultKind.ServiceUnavailable:
                            await AnswerAsync(downstream, "503 Service Unavailable", "Retry-After: 0\r\n", "UNAVAILABLE").ConfigureAwait(false);
                            return;
                        case FaultKind.TooManyRequests:
                            await AnswerAsync(downstream, "429 Too Many Requests", "Retry-After: 1\r\n", "TOOMANYREQUESTS").ConfigureAwait(false);
                            return;
                        case FaultKind.InternalError:
                            await AnswerAsync(downstream, "500 Internal Server Error", string.Empty, "UNKNOWN").ConfigureAwait(false);
                            return;
                        case FaultKind.Reset:
                            client.Client.LingerState = new LingerOption(true, 0);
                            client.Client.Close();
                            return;
                        case FaultKind.Latency:
                            await Task.Delay(Latency).ConfigureAwait(false);
                            break;
                    }

                    using var upstream = new TcpClient();
                    await upstream.ConnectAsync(_upstreamHost, _upstreamPort).ConfigureAwait(false);
                    var upstreamStream = upstream.GetStream();
                    var rewritten = RewriteHead(head);
                    var headBytes = Encoding.ASCII.GetBytes(rewritten);
                    await upstreamStream.WriteAsync(headBytes, 0, headBytes.Length).ConfigureAwait(false);
                    if (rest.Length > 0)
                    {
                        await upstreamStream.WriteAsync(rest, 0, rest.Length).ConfigureAwait(false);
                    }

                    var up = PumpAsync(downstream, upstreamStream, closeWrite: upstream.Client);
                    var down = PumpAsync(upstreamStream, downstream, closeWrite: null);
                    await down.ConfigureAwait(false);
                    client.Client.Shutdown(SocketShutdown.Send);
                    await Task.WhenAny(up, Task.Delay(1000)).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is System.IO.IOException || ex is SocketException || ex is ObjectDisposedException)
                {
                    // A client or upstream went away: nothing to do.
                }
            }
        }

        private static async Task PumpAsync(NetworkStream from, NetworkStream to, Socket? closeWrite)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                int read;
                while ((read = await from.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false)) > 0)
                {
                    await to.WriteAsync(buffer, 0, read).ConfigureAwait(false);
                }

                closeWrite?.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is System.IO.IOException || ex is SocketException || ex is ObjectDisposedException)
            {
            }
        }

        /// <summary>An error answer in the distribution spec's format (its codes: UNAVAILABLE, TOOMANYREQUESTS, UNKNOWN).</summary>
        private static async Task AnswerAsync(NetworkStream stream, string status, string headers, string code)
        {
            var body = "{\"errors\":[{\"code\":\"" + code + "\",\"message\":\"injected fault\"}]}";
            var text = "HTTP/1.1 " + status + "\r\n" + headers + "Content-Type: application/json\r\nContent-Length: " + body.Length + "\r\nConnection: close\r\n\r\n" + body;
            var bytes = Encoding.ASCII.GetBytes(text);
            await stream.WriteAsync(bytes, 0, bytes.Length).ConfigureAwait(false);
        }

        /// <summary>Replaces any Connection header with "Connection: close" (one request per connection).</summary>
        private static string RewriteHead(string head)
        {
            var lines = head.Substring(0, head.Length - 4).Split(new[] { "\r\n" }, StringSplitOptions.None);
            var sb = new StringBuilder();
            foreach (var line in lines)
            {
                if (line.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase) || line.StartsWith("Keep-Alive:", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                sb.Append(line).Append("\r\n");
            }

            sb.Append("Connection: close\r\n\r\n");
            return sb.ToString();
        }

        /// <summary>Reads up to the end of the request head; returns it and any body bytes read past it.</summary>
        private static async Task<(string? Head, byte[] Remainder)> ReadHeadAsync(NetworkStream stream)
        {
            var buffer = new List<byte>(4096);
            var chunk = new byte[4096];
            while (buffer.Count < 64 * 1024)
            {
                var read = await stream.ReadAsync(chunk, 0, chunk.Length).ConfigureAwait(false);
                if (read <= 0)
                {
                    return (null, Array.Empty<byte>());
                }

                if (buffer.Count == 0 && chunk[0] == 0x16)
                {
                    // A TLS ClientHello: dockerd tries https first, then falls back to http for 127.0.0.1. Refuse.
                    return (null, Array.Empty<byte>());
                }

                buffer.AddRange(new ArraySegment<byte>(chunk, 0, read));
                var bytes = buffer.ToArray();
                var end = IndexOf(bytes, new byte[] { 13, 10, 13, 10 });
                if (end >= 0)
                {
                    var head = Encoding.ASCII.GetString(bytes, 0, end + 4);
                    var rest = new byte[bytes.Length - end - 4];
                    Array.Copy(bytes, end + 4, rest, 0, rest.Length);
                    return (head, rest);
                }
            }

            return (null, Array.Empty<byte>());
        }

        private static int IndexOf(byte[] haystack, byte[] needle)
        {
            for (var i = 0; i <= haystack.Length - needle.Length; i++)
            {
                var match = true;
                for (var j = 0; j < needle.Length; j++)
                {
                    if (haystack[i + j] != needle[j])
                    {
                        match = false;
                        break;
                    }
                }

                if (match)
                {
                    return i;
                }
            }

            return -1;
        }
    }
}
