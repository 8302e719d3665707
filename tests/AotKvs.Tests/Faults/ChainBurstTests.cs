using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Faults;

/// <summary>
/// Thousands of clients at once through a chain of two forwarders while main is up: every
/// request is answered by main (no spurious 503), and neither forwarder opens more
/// connections to the next hop than its bound.
/// </summary>
[Collection(FaultsCollection.Name), Trait("Category", "Faults")]
public sealed class ChainBurstTests
{
    private const int Clients = 2500;
    private const int UpstreamBound = 64;

    [Fact]
    public async Task A_chain_under_a_burst_of_clients_answers_every_request_from_main()
    {
        using var main = ServerProcess.StartMain();
        using var first = ServerProcess.StartForwarder(main.Address, null, ("KVS_UPSTREAM_CONNECTIONS", UpstreamBound.ToString()));
        using var second = ServerProcess.StartForwarder(first.Address, null, ("KVS_UPSTREAM_CONNECTIONS", UpstreamBound.ToString()));

        var mostToMain = 0;
        var mostToFirst = 0;
        using var done = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                mostToMain = Math.Max(mostToMain, EstablishedTo(main.Port));
                mostToFirst = Math.Max(mostToFirst, EstablishedTo(first.Port));
                await Task.Delay(20);
            }
        });

        var statuses = await BurstAsync(second.Port);
        await done.CancelAsync();
        await watcher;

        Assert.Equal([(201, Clients), (200, Clients)], statuses.OrderByDescending(s => s.Key).Select(s => (s.Key, s.Value)));
        // The bound, plus the readiness probe's own connection and a client's own connection to first.
        Assert.InRange(mostToMain, 1, UpstreamBound + 1);
        Assert.InRange(mostToFirst, 1, UpstreamBound + 1);
    }

    /// <summary>Every client connects at once, PUTs its own key and reads it back on one keep-alive connection.</summary>
    private static async Task<Dictionary<int, int>> BurstAsync(int port)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var statuses = new Dictionary<int, int>();
        var connections = new RawConnection?[Clients];
        try
        {
            await Task.WhenAll(Enumerable.Range(0, Clients).Select(async i =>
            {
                var connection = connections[i] = await RawConnection.OpenAsync("127.0.0.1", port, timeout.Token);
                var body = $"{{\"value\":{i}}}";
                var put = $"PUT /kvs/burst-{i} HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}";
                foreach (var request in new[] { put, $"GET /kvs/burst-{i} HTTP/1.1\r\nHost: h\r\n\r\n" })
                {
                    await connection.SendAsync(request, timeout.Token);
                    var status = (await connection.ReadAnswerAsync(timeout.Token)).Status;
                    lock (statuses)
                        statuses[status] = statuses.GetValueOrDefault(status) + 1;
                }
            }));
        }
        finally
        {
            foreach (var connection in connections)
                connection?.Dispose();
        }
        return statuses;
    }

    /// <summary>Established TCP connections to a local port (IPv4 and IPv6 tables: the client may use either), from the kernel.</summary>
    private static int EstablishedTo(int port)
    {
        var remote = $":{port:X4}";
        return new[] { "/proc/net/tcp", "/proc/net/tcp6" }.SelectMany(table => File.ReadLines(table).Skip(1))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Count(fields => fields[2].EndsWith(remote, StringComparison.Ordinal) && fields[3] == "01");
    }
}
