using System.Globalization;
using System.Net.Sockets;
using System.Text;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>
/// Garbage per request on the hot paths, read from the real binary's own count of bytes
/// allocated (kvs_gc_allocated_bytes in /metrics) across thousands of keep-alive requests.
/// The bounds are a little above what is measured, so a new per-request allocation fails.
/// </summary>
[Trait("Category", "Process")]
public sealed class AllocationTests(ITestOutputHelper output)
{
    private const int Requests = 4000;
    private const int Keys = 500;

    [Fact]
    public async Task Main_GET_PUT_DELETE_make_almost_no_garbage()
    {
        using var main = ServerProcess.StartMain();
        using var client = await KeepAliveClient.ConnectAsync(main.Port);
        var value = """{"value":"twenty bytes of value"}""";

        await client.RunAsync(Requests, i => Put($"/kvs/warm{i % Keys}", value)); // warm-up: JIT-free AOT, but pools and tables fill
        await client.RunAsync(Requests, i => $"GET /kvs/warm{i % Keys} HTTP/1.1\r\nHost: h\r\n\r\n");

        var get = await PerRequestAsync(main, client, i => $"GET /kvs/warm{i % Keys} HTTP/1.1\r\nHost: h\r\n\r\n");
        var replace = await PerRequestAsync(main, client, i => Put($"/kvs/warm{i % Keys}", value));
        var delete = await PerRequestAsync(main, client, i => $"DELETE /kvs/warm{i % Keys} HTTP/1.1\r\nHost: h\r\n\r\n");
        output.WriteLine($"bytes allocated per request: GET {get:F0}, PUT (replace) {replace:F0}, DELETE {delete:F0}");

        // Measured: GET 102, DELETE 96, PUT 268. What remains is mostly the server's two strings
        // for each new target (raw and decoded) and, for a PUT, the stored entry itself.
        Assert.True(get < 128, $"GET allocates {get:F0} B per request");
        Assert.True(delete < 128, $"DELETE allocates {delete:F0} B per request");
        Assert.True(replace < 320, $"PUT allocates {replace:F0} B per request");
    }

    [Fact]
    public async Task Forwarder_request_path_allocates_a_bounded_amount()
    {
        using var main = ServerProcess.StartMain();
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        using var client = await KeepAliveClient.ConnectAsync(forwarder.Port);
        await client.RunAsync(Requests, i => Put($"/kvs/f{i % Keys}", """{"value":1}"""));

        var get = await PerRequestAsync(forwarder, client, i => $"GET /kvs/f{i % Keys} HTTP/1.1\r\nHost: h\r\n\r\n");
        output.WriteLine($"forwarder bytes allocated per GET: {get:F0}");

        // Measured 2189: the HTTP client's request, answer and header objects are most of it.
        Assert.True(get < 2600, $"a forwarded GET allocates {get:F0} B");
    }

    private static async Task<double> PerRequestAsync(ServerProcess server, KeepAliveClient client, Func<int, string> request)
    {
        var before = await AllocatedAsync(server);
        var scrapeCost = await AllocatedAsync(server) - before; // a scrape allocates too: measured, then taken off
        await client.RunAsync(Requests, request);
        var after = await AllocatedAsync(server);
        return (after - before - 2 * scrapeCost) / (double)Requests;
    }

    private static async Task<long> AllocatedAsync(ServerProcess server)
    {
        var metrics = (await GetAsync(server.BaseUri, "/metrics")).Body;
        var line = metrics.Split('\n').Single(l => l.StartsWith("kvs_gc_allocated_bytes ", StringComparison.Ordinal));
        return long.Parse(line["kvs_gc_allocated_bytes ".Length..], CultureInfo.InvariantCulture);
    }

    private static string Put(string target, string body) =>
        $"PUT {target} HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}";

    /// <summary>One keep-alive connection that sends a request and reads its whole answer, one at a time.</summary>
    private sealed class KeepAliveClient : IDisposable
    {
        private readonly Socket _socket;
        private readonly byte[] _buffer = new byte[64 * 1024];

        private KeepAliveClient(Socket socket) => _socket = socket;

        public static async Task<KeepAliveClient> ConnectAsync(int port)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync("127.0.0.1", port);
            return new KeepAliveClient(socket);
        }

        public async Task RunAsync(int count, Func<int, string> request)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            for (var i = 0; i < count; i++)
            {
                await _socket.SendAsync(Encoding.ASCII.GetBytes(request(i)), SocketFlags.None, timeout.Token);
                await ReadAnswerAsync(timeout.Token);
            }
        }

        private async Task ReadAnswerAsync(CancellationToken cancel)
        {
            var filled = 0;
            while (true)
            {
                var n = await _socket.ReceiveAsync(_buffer.AsMemory(filled), SocketFlags.None, cancel);
                if (n == 0)
                    throw new IOException("the server closed the connection");
                filled += n;
                var text = Encoding.ASCII.GetString(_buffer, 0, filled);
                var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (end < 0)
                    continue;
                var at = text.IndexOf("Content-Length: ", StringComparison.OrdinalIgnoreCase);
                var length = int.Parse(text[(at + 16)..text.IndexOf('\r', at)], CultureInfo.InvariantCulture);
                if (filled >= end + 4 + length)
                    return;
            }
        }

        public void Dispose() => _socket.Dispose();
    }
}
