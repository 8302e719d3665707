using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.Faults;

/// <summary>
/// A burst of connections through a forwarder, then silence: the memory the burst took is
/// given back within seconds of going idle, instead of being held at its peak.
/// </summary>
[Collection(FaultsCollection.Name), Trait("Category", "Faults")]
public sealed class BurstMemoryTests(ITestOutputHelper output)
{
    private const int Clients = 1500;

    [Fact]
    public async Task Forwarder_gives_back_most_of_a_burst_once_idle()
    {
        using var main = ServerProcess.StartMain();
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        var start = forwarder.ResidentKib;

        await BurstAsync(forwarder.Port);
        var peak = forwarder.ResidentKib;
        Assert.True(peak - start > 8 * 1024, $"the burst should cost memory to give back: {start} -> {peak} KiB");

        // Idle is noticed within two 5 s looks; poll (bounded) rather than sleep a fixed time.
        var settled = Poll.Until(() => forwarder.ResidentKib - start < (peak - start) / 2, TimeSpan.FromSeconds(20));
        var end = forwarder.ResidentKib;
        output.WriteLine($"forwarder VmRSS: start {start / 1024} MiB, after {Clients} connections {peak / 1024} MiB, idle {end / 1024} MiB");
        Assert.True(settled, $"forwarder kept {end - start} of {peak - start} KiB it grew by");
    }

    /// <summary>Clients connect at once, each sends three keep-alive GETs and reads the answers, then all leave.</summary>
    private static async Task BurstAsync(int port)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var connections = new RawConnection?[Clients];
        try
        {
            await Task.WhenAll(Enumerable.Range(0, Clients).Select(async i =>
            {
                var connection = connections[i] = await RawConnection.OpenAsync("127.0.0.1", port, timeout.Token);
                for (var n = 0; n < 3; n++)
                {
                    await connection.SendAsync("GET /kvs/burst HTTP/1.1\r\nHost: h\r\n\r\n", timeout.Token);
                    Assert.Equal(404, (await connection.ReadAnswerAsync(timeout.Token)).Status);
                }
            }));
        }
        finally
        {
            foreach (var connection in connections)
                connection?.Dispose();
        }
    }
}
