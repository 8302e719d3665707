using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Faults;

/// <summary>
/// Clients that send slowly or go silent cost the server one idle connection each, for a
/// bounded time, and never hold up anyone else.
/// </summary>
[Collection(TimingCollection.Name), Trait("Category", "Faults")]
public sealed class SlowClientTests
{
    [Fact]
    public async Task Request_trickled_a_byte_at_a_time_is_still_answered()
    {
        using var main = ServerProcess.StartMain();
        var request = "GET /kvs/slow HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"u8.ToArray();
        var pieces = request.Select(b => new[] { b }).ToList();
        var outcome = await RawExchange.SendAsync(main.Port, pieces, 1, TimeSpan.FromSeconds(10), pause: TimeSpan.FromMilliseconds(20));
        Assert.Equal(404, Assert.Single(outcome.Answers).Status);
    }

    [Fact]
    public async Task Silent_clients_do_not_hold_up_others_on_main_or_a_forwarder()
    {
        using var main = ServerProcess.StartMain();
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        var silent = new List<Socket>();
        try
        {
            foreach (var server in new[] { main, forwarder })
            {
                for (var i = 0; i < 100; i++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await socket.ConnectAsync("127.0.0.1", server.Port);
                    // Half a request line, half a header block, or a body that never comes.
                    var part = (i % 3) switch
                    {
                        0 => "PUT /kvs/si",
                        1 => "PUT /kvs/silent HTTP/1.1\r\nHost: h\r\nContent-Le",
                        _ => "PUT /kvs/silent HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n{\"va",
                    };
                    await socket.SendAsync(Encoding.ASCII.GetBytes(part));
                    silent.Add(socket);
                }
            }

            var clock = Stopwatch.StartNew();
            (await PutValueAsync(forwarder.BaseUri, "/kvs/busy", "1")).ShouldBe(201, Expected.Created);
            (await GetAsync(main.BaseUri, "/kvs/busy")).ShouldBe(200, """{"result": "found", "value": 1}""");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
        }
        finally
        {
            foreach (var socket in silent)
                socket.Dispose();
        }
    }

    [Fact]
    public async Task Body_slower_than_the_minimum_rate_is_cut_off_within_seconds()
    {
        using var main = ServerProcess.StartMain();
        // Announces 100 KB and sends a byte every 200 ms: below Kestrel's 240 bytes/s after its 5 s grace.
        var head = "PUT /kvs/slow HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"u8.ToArray();
        var pieces = new List<byte[]> { head };
        pieces.AddRange(Enumerable.Repeat(" "u8.ToArray(), 100));
        var outcome = await RawExchange.SendAsync(main.Port, pieces, 1, TimeSpan.FromSeconds(15), pause: TimeSpan.FromMilliseconds(200));

        Assert.False(outcome.TimedOut, "still connected after 15 s");
        Assert.InRange(outcome.Elapsed, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(10));
        Assert.All(outcome.Answers, a => Assert.InRange(a.Status, 400, 499));
        (await GetAsync(main.BaseUri, "/kvs/slow")).ShouldBe(404, Expected.KeyNotFound);
    }
}
