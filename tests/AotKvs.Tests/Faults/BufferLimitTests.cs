using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Faults;

/// <summary>
/// KVS_MAX_BUFFERED_BYTES: request bodies being read (and, on a forwarder, main's answers
/// being relayed) hold at most that many bytes together. Past it, 503 "Server is busy" with
/// the connection closed, a log line and a metric; never a 500, and memory stays bounded.
/// </summary>
[Collection(FaultsCollection.Name), Trait("Category", "Faults")]
public sealed class BufferLimitTests(ITestOutputHelper output)
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task Bodies_past_the_buffer_limit_get_503_busy_and_a_closed_connection_and_are_counted_and_logged()
    {
        using var main = ServerProcess.StartMain(null, ("KVS_MAX_BUFFERED_BYTES", (4 * MiB).ToString(CultureInfo.InvariantCulture)));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var body = Body(3 * MiB / 2);
        var held = new List<RawConnection>();
        try
        {
            // Two bodies of 1.5 MiB, started and left unfinished, hold 3 MiB of the 4.
            for (var i = 0; i < 2; i++)
            {
                var connection = await RawConnection.OpenAsync("127.0.0.1", main.Port, timeout.Token);
                held.Add(connection);
                await connection.SendAsync(Head($"/kvs/held{i}", body.Length), timeout.Token);
                await connection.SendAsync(body[..1024], timeout.Token);
                var reserved = (i + 1) * body.Length;
                Assert.True(await Poll.UntilAsync(async () => await MetricAsync(main, "kvs_buffered_bytes") >= reserved, TimeSpan.FromSeconds(10)),
                    $"main does not report {reserved} bytes buffered");
            }

            // A third does not fit: refused at once, the connection closed, nothing stored.
            using (var third = await RawConnection.OpenAsync("127.0.0.1", main.Port, timeout.Token))
            {
                await third.SendAsync(Head("/kvs/third", body.Length), timeout.Token);
                await third.SendAsync(body[..1024], timeout.Token);
                var answer = await third.ReadAnswerAsync(timeout.Token);
                answer.ShouldBe(503, Expected.Busy);
                Assert.Equal("close", answer.Headers["Connection"], ignoreCase: true);
                Assert.Equal(0, await third.Socket.ReceiveAsync(new byte[16], System.Net.Sockets.SocketFlags.None, timeout.Token));
            }
            (await GetAsync(main.BaseUri, "/kvs/third")).ShouldBe(404, Expected.KeyNotFound);
            // Small requests still fit beside the held bodies.
            (await PutValueAsync(main.BaseUri, "/kvs/small", "1")).ShouldBe(201, Expected.Created);

            // The held bodies finish and are stored; their bytes are given back.
            foreach (var connection in held)
                await connection.SendAsync(body[1024..], timeout.Token);
            foreach (var connection in held)
                (await connection.ReadAnswerAsync(timeout.Token)).ShouldBe(201, Expected.Created);
            Assert.True(await Poll.UntilAsync(async () => await MetricAsync(main, "kvs_buffered_bytes") == 0, TimeSpan.FromSeconds(10)));
            Assert.Equal(1, await MetricAsync(main, "kvs_buffer_refusals_total"));
            (await PutAsync(main, "/kvs/third", body)).ShouldBe(201, Expected.Created);
            Assert.Contains("Buffer limit reached", main.Output, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var connection in held)
                connection.Dispose();
        }
    }

    [Fact]
    public async Task A_forwarder_refuses_bodies_and_answers_of_main_past_its_buffer_limit()
    {
        using var main = ServerProcess.StartMain();
        using var forwarder = ServerProcess.StartForwarder(main.Address, null, ("KVS_MAX_BUFFERED_BYTES", (1 * MiB).ToString(CultureInfo.InvariantCulture)));
        var body = Body(2 * MiB);
        (await StartPutAsync(forwarder, "/kvs/big", body)).ShouldBe(503, Expected.Busy);
        (await GetAsync(main.BaseUri, "/kvs/big")).ShouldBe(404, Expected.KeyNotFound);

        (await PutAsync(main, "/kvs/big", body)).ShouldBe(201, Expected.Created);
        (await GetAsync(forwarder.BaseUri, "/kvs/big")).ShouldBe(503, Expected.Busy); // main's answer would not fit
        (await GetAsync(forwarder.BaseUri, "/kvs/nothing")).ShouldBe(404, Expected.KeyNotFound);
        Assert.Equal(2, await MetricAsync(forwarder, "kvs_buffer_refusals_total"));
    }

    [Fact]
    public async Task A_chunked_body_that_outgrows_the_buffer_limit_gets_503_busy_and_a_smaller_one_is_stored()
    {
        using var main = ServerProcess.StartMain(null, ("KVS_MAX_BUFFERED_BYTES", "65536"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var (size, status, json) in new[] { (200 * 1024, 503, Expected.Busy), (40 * 1024, 201, Expected.Created) })
        {
            var body = Body(size);
            using var connection = await RawConnection.OpenAsync("127.0.0.1", main.Port, timeout.Token);
            await connection.SendAsync("PUT /kvs/chunked HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", timeout.Token);
            // 16 KiB chunks, one at a time: the buffer grows until the limit refuses it.
            try
            {
                for (var offset = 0; offset < body.Length; offset += 16 * 1024)
                {
                    var chunk = body.AsSpan(offset, Math.Min(16 * 1024, body.Length - offset)).ToArray();
                    await connection.SendAsync([.. Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"), .. chunk, .. "\r\n"u8.ToArray()], timeout.Token);
                    await Task.Delay(5, timeout.Token);
                }
                await connection.SendAsync("0\r\n\r\n", timeout.Token);
            }
            catch (System.Net.Sockets.SocketException)
            {
                // refused and closed while the rest was still being sent; the answer came first
            }
            (await connection.ReadAnswerAsync(timeout.Token)).ShouldBe(status, json);
        }
        Assert.Equal(1, await MetricAsync(main, "kvs_buffer_refusals_total"));
    }

    /// <summary>
    /// Many clients each sending most of a large body and then stalling (the body-rate
    /// minimum lets them wait for hours) hold at most the limit between them.
    /// </summary>
    [Fact]
    public async Task Many_stalled_large_bodies_keep_main_within_the_buffer_limit()
    {
        const int Clients = 60;
        const int LimitMib = 64;
        using var main = ServerProcess.StartMain(null, ("KVS_MAX_BUFFERED_BYTES", (LimitMib * MiB).ToString(CultureInfo.InvariantCulture)));
        (await PutValueAsync(main.BaseUri, "/kvs/warm", "1")).ShouldBe(201, Expected.Created);
        var before = main.ResidentKib;
        var body = Body(8 * MiB);
        var stalledAt = body.Length - 4096;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var connections = new List<RawConnection>();
        try
        {
            var sends = new List<Task<bool>>();
            for (var i = 0; i < Clients; i++)
            {
                var connection = await RawConnection.OpenAsync("127.0.0.1", main.Port, timeout.Token);
                connections.Add(connection);
                sends.Add(SendUntilRefusedAsync(connection, Head($"/kvs/stalled{i}", body.Length), body.AsMemory(0, stalledAt), timeout.Token));
            }
            var sent = await Task.WhenAll(sends);
            await Task.Delay(500);
            var grownMib = (main.ResidentKib - before) / 1024.0;

            var accepted = sent.Count(whole => whole);
            output.WriteLine($"{Clients} stalled 8 MiB bodies: {accepted} taken in, main grew by {grownMib:F0} MiB");
            Assert.InRange(accepted, 1, LimitMib / 8); // whole 8 MiB bodies the limit can hold
            Assert.True(grownMib < LimitMib + 48, $"main grew by {grownMib:F0} MiB for {Clients} stalled 8 MiB bodies ({accepted} taken in)");
            Assert.Equal(Clients - accepted, await MetricAsync(main, "kvs_buffer_refusals_total"));
        }
        finally
        {
            foreach (var connection in connections)
                connection.Dispose();
        }
    }

    /// <summary>Sends the head and part of a body; false if the server closed the connection (refused) first.</summary>
    private static async Task<bool> SendUntilRefusedAsync(RawConnection connection, byte[] head, ReadOnlyMemory<byte> part, CancellationToken cancel)
    {
        try
        {
            await connection.SendAsync(head, cancel);
            for (var offset = 0; offset < part.Length; offset += 256 * 1024)
                await connection.Socket.SendAsync(part.Slice(offset, Math.Min(256 * 1024, part.Length - offset)), System.Net.Sockets.SocketFlags.None, cancel);
            // Refused bodies are answered at once, possibly before all of the part was taken.
            var answered = connection.Socket.ReceiveAsync(new byte[1], System.Net.Sockets.SocketFlags.None, cancel).AsTask();
            return await Task.WhenAny(answered, Task.Delay(300, cancel)) != answered;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private static byte[] Body(int length)
    {
        var prefix = "{\"value\":\""u8;
        var body = new byte[length];
        prefix.CopyTo(body);
        body.AsSpan(prefix.Length, length - prefix.Length - 2).Fill((byte)'b');
        body[^2] = (byte)'"';
        body[^1] = (byte)'}';
        return body;
    }

    private static byte[] Head(string target, int length) =>
        Encoding.ASCII.GetBytes($"PUT {target} HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n");

    private static async Task<WireAnswer> PutAsync(ServerProcess server, string target, byte[] body)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var connection = await RawConnection.OpenAsync("127.0.0.1", server.Port, timeout.Token);
        await connection.SendAsync([.. Head(target, body.Length), .. body], timeout.Token);
        return await connection.ReadAnswerAsync(timeout.Token);
    }

    /// <summary>Sends the head and the first KiB of a body, and reads the answer that comes before the rest.</summary>
    private static async Task<WireAnswer> StartPutAsync(ServerProcess server, string target, byte[] body)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var connection = await RawConnection.OpenAsync("127.0.0.1", server.Port, timeout.Token);
        await connection.SendAsync([.. Head(target, body.Length), .. body[..1024]], timeout.Token);
        return await connection.ReadAnswerAsync(timeout.Token);
    }

    private static async Task<double> MetricAsync(ServerProcess server, string series)
    {
        var metrics = (await GetAsync(server.BaseUri, "/metrics")).Body;
        var match = Regex.Match(metrics, "^" + Regex.Escape(series) + " (\\S+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"no sample {series} in\n{metrics}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
