using System.Text;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Faults;

/// <summary>The limits a user can see and set hold, with the documented answers.</summary>
[Trait("Category", "Faults")]
public sealed class LimitsTests
{

    [Fact]
    public async Task Default_body_limit_refuses_a_17_MiB_body_actually_sent_with_413_on_main_and_through_a_forwarder()
    {
        using var main = ServerProcess.StartMain();
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        var value = new string('x', 17 * 1024 * 1024);
        var body = Encoding.ASCII.GetBytes($$"""{"value": "{{value}}"}""");
        foreach (var server in new[] { main, forwarder })
        {
            var sized = Encoding.ASCII.GetBytes($"PUT /kvs/big HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n");
            var outcome = await RawExchange.SendAsync(server.Port, [sized, body], 1, TimeSpan.FromSeconds(20));
            AssertAnswer(outcome, 413, Expected.BodyTooLarge);

            var chunked = Encoding.ASCII.GetBytes("PUT /kvs/big HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
            var chunks = Encoding.ASCII.GetBytes($"{body.Length:x}\r\n").Concat(body).Concat("\r\n0\r\n\r\n"u8.ToArray()).ToArray();
            AssertAnswer(await RawExchange.SendAsync(server.Port, [chunked, chunks], 1, TimeSpan.FromSeconds(20)), 413, Expected.BodyTooLarge);
        }
        (await GetAsync(forwarder.BaseUri, "/kvs/big")).ShouldBe(404, Expected.KeyNotFound);
        (await PutValueAsync(forwarder.BaseUri, "/kvs/big", "1")).ShouldBe(201, Expected.Created);
    }

    [Fact]
    public async Task Body_limit_is_set_with_KVS_MAX_BODY_BYTES()
    {
        using var main = ServerProcess.StartMain(null, ("KVS_MAX_BODY_BYTES", "100"));
        (await PutValueAsync(main.BaseUri, "/kvs/a", $"\"{new string('x', 87)}\"")).ShouldBe(201, Expected.Created); // 100 bytes
        (await PutValueAsync(main.BaseUri, "/kvs/a", $"\"{new string('x', 88)}\"")).ShouldBe(413, Expected.BodyTooLarge); // 101 bytes
    }

    [Fact]
    public async Task Json_depth_limit_is_set_with_KVS_MAX_JSON_DEPTH()
    {
        using var main = ServerProcess.StartMain(null, ("KVS_MAX_JSON_DEPTH", "8"));
        // The body's own object is the first level.
        (await PutValueAsync(main.BaseUri, "/kvs/a", new string('[', 7) + new string(']', 7))).ShouldBe(201, Expected.Created);
        (await PutValueAsync(main.BaseUri, "/kvs/a", new string('[', 8) + new string(']', 8))).ShouldBe(400, Expected.NoValue);
    }

    [Fact]
    public async Task Default_json_depth_is_512()
    {
        using var main = ServerProcess.StartMain();
        (await PutValueAsync(main.BaseUri, "/kvs/a", new string('[', 511) + new string(']', 511))).ShouldBe(201, Expected.Created);
        (await PutValueAsync(main.BaseUri, "/kvs/a", new string('[', 512) + new string(']', 512))).ShouldBe(400, Expected.NoValue);
    }

    [Fact]
    public async Task Connections_beyond_KVS_MAX_CONNECTIONS_are_closed_and_the_held_ones_still_served()
    {
        using var main = ServerProcess.StartMain(null, ("KVS_MAX_CONNECTIONS", "4"));
        await Task.Delay(200); // the readiness probe's connection is gone
        var held = new List<System.Net.Sockets.TcpClient>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var client = new System.Net.Sockets.TcpClient();
                await client.ConnectAsync("127.0.0.1", main.Port);
                held.Add(client);
            }
            await Task.Delay(200);
            var refused = await RawExchange.SendAsync(main.Port, [Encoding.ASCII.GetBytes("GET /kvs/a HTTP/1.1\r\nHost: h\r\n\r\n")], 1, TimeSpan.FromSeconds(5));
            Assert.Empty(refused.Answers);
            Assert.True(refused.Closed, "the extra connection was neither served nor closed");

            // A held connection is still served; once it is gone there is room again.
            var stream = held[0].GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /kvs/a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
            var reply = new byte[4096];
            var n = await stream.ReadAsync(reply).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            Assert.StartsWith("HTTP/1.1 404", Encoding.ASCII.GetString(reply, 0, n));
            held[0].Dispose();
            await Task.Delay(200);
            (await GetAsync(main.BaseUri, "/kvs/a")).ShouldBe(404, Expected.KeyNotFound);
        }
        finally
        {
            foreach (var client in held)
                client.Dispose();
        }
    }

    private static void AssertAnswer(WireOutcome outcome, int status, string json)
    {
        var answer = Assert.Single(outcome.Answers);
        answer.ShouldBe(status, json);
    }
}
