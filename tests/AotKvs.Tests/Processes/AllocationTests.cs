using System.Globalization;
using System.Text;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Processes;

/// <summary>
/// Garbage per request on the hot paths, read from the real binary's own count of bytes
/// allocated (kvs_gc_allocated_bytes in /metrics) across thousands of keep-alive requests.
/// The bounds are a little above what is measured, so a new per-request allocation fails.
/// </summary>
[Trait("Category", "Processes")]
public sealed class AllocationTests(ITestOutputHelper output)
{
    private const int Requests = 4000;
    private const int Keys = 500;

    [Fact]
    public async Task Main_GET_PUT_DELETE_make_almost_no_garbage()
    {
        using var main = ServerProcess.StartMain();
        using var client = await RawConnection.OpenAsync("127.0.0.1", main.Port, default);
        var value = """{"value":"twenty bytes of value"}""";

        await RunAsync(client, i => Put($"/kvs/warm{i % Keys}", value)); // warm-up: JIT-free AOT, but pools and tables fill
        await RunAsync(client, i => $"GET /kvs/warm{i % Keys} HTTP/1.1\r\nHost: h\r\n\r\n");

        var get = await PerRequestAsync(main, client, i => $"GET /kvs/warm{i % Keys} HTTP/1.1\r\nHost: h\r\n\r\n");
        var replace = await PerRequestAsync(main, client, i => Put($"/kvs/warm{i % Keys}", value));
        var delete = await PerRequestAsync(main, client, i => $"DELETE /kvs/warm{i % Keys} HTTP/1.1\r\nHost: h\r\n\r\n");
        output.WriteLine($"bytes allocated per request: GET {get:F0}, PUT (replace) {replace:F0}, DELETE {delete:F0}");

        // Measured: GET 91-95, DELETE 94-100, PUT 351 (271-278 before versions). What remains is
        // mostly the server's two strings for each new target (raw and decoded) and, for a PUT,
        // the stored entry itself (8 B of it the version) and its ETag string (72 B). A GET
        // sends the ETag string its PUT made (EntityTags keeps the latest), so costs nothing more.
        Assert.True(get < 128, $"GET allocates {get:F0} B per request");
        Assert.True(delete < 128, $"DELETE allocates {delete:F0} B per request");
        Assert.True(replace < 400, $"PUT allocates {replace:F0} B per request");
    }

    [Fact]
    public async Task Forwarder_request_path_allocates_a_bounded_amount()
    {
        using var main = ServerProcess.StartMain();
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        using var client = await RawConnection.OpenAsync("127.0.0.1", forwarder.Port, default);
        await RunAsync(client, i => Put($"/kvs/f{i % Keys}", """{"value":1}"""));

        var get = await PerRequestAsync(forwarder, client, i => $"GET /kvs/f{i % Keys} HTTP/1.1\r\nHost: h\r\n\r\n");
        output.WriteLine($"forwarder bytes allocated per GET: {get:F0}");

        // Measured 130-1270 over runs alone, up to 1970 beside the rest of the suite: the
        // server's strings for the target and what async state machines the pools miss, which
        // varies from one process to the next. The general-purpose HTTP client used before
        // took 2189 B alone.
        Assert.True(get < 2048, $"a forwarded GET allocates {get:F0} B");
    }

    private static async Task<double> PerRequestAsync(ServerProcess server, RawConnection client, Func<int, string> request)
    {
        var before = await AllocatedAsync(server);
        var scrapeCost = await AllocatedAsync(server) - before; // a scrape allocates too: measured, then taken off
        await RunAsync(client, request);
        var after = await AllocatedAsync(server);
        return (after - before - 2 * scrapeCost) / (double)Requests;
    }

    private static async Task<long> AllocatedAsync(ServerProcess server)
    {
        var metrics = (await GetAsync(server.BaseUri, "/metrics")).Body;
        var line = metrics.Split('\n').Single(l => l.StartsWith("kvs_gc_allocated_bytes ", StringComparison.Ordinal));
        return long.Parse(line["kvs_gc_allocated_bytes ".Length..], CultureInfo.InvariantCulture);
    }

    /// <summary>Requests one after another on one keep-alive connection, each answer read whole.</summary>
    private static async Task RunAsync(RawConnection client, Func<int, string> request)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        for (var i = 0; i < Requests; i++)
        {
            await client.SendAsync(request(i), timeout.Token);
            await client.ReadAnswerAsync(timeout.Token);
        }
    }

    private static string Put(string target, string body) =>
        $"PUT {target} HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}";
}
