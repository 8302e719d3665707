using System.Net.Sockets;
using System.Net;
using System.Text;
using AotKvs.Forwarding.Client;
using AotKvs.Protocol;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The forwarder's HTTP/1.1 client on one connection, driven byte by byte from a loopback
/// socket: exact framing whatever the split of the bytes, buffers that grow and compact, the
/// tag rules that tie an answer to its request, and the budget held and given back.
/// </summary>
[Trait("Category", "Unit")]
public sealed class UpstreamConnectionTests : IDisposable
{
    private const ulong Tag = 0x2a;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<IDisposable> _owned = [];

    public UpstreamConnectionTests() => _listener.Start();

    /// <summary>A connection to a socket the test writes main's side of.</summary>
    private async Task<(UpstreamConnection Connection, Socket Main)> PairAsync(BufferBudget? budget = null)
    {
        var client = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accepting = _listener.AcceptSocketAsync();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)_listener.LocalEndpoint).Port);
        var main = await accepting;
        main.NoDelay = true;
        var connection = new UpstreamConnection(client, 0, budget ?? BufferBudget.Unlimited);
        _owned.Add(connection);
        _owned.Add(main);
        return (connection, main);
    }

    /// <summary>Main's answer text with the Kvs-Tag field after its status line.</summary>
    private static string Tagged(string head, ulong tag = Tag)
    {
        var lineEnd = head.IndexOf("\r\n", StringComparison.Ordinal);
        return head[..(lineEnd + 2)] + $"Kvs-Tag: {tag:x16}\r\n" + head[(lineEnd + 2)..];
    }

    /// <summary>Main's bytes in pieces of <paramref name="piece"/>, each in a write of its own.</summary>
    private static async Task WriteInPiecesAsync(Socket main, string text, int piece)
    {
        var bytes = Encoding.Latin1.GetBytes(text);
        for (var (at, writes) = (0, 0); at < bytes.Length; at += piece, writes++)
        {
            await main.SendAsync(bytes.AsMemory(at, Math.Min(piece, bytes.Length - at)));
            if (writes % 50 == 49)
                await Task.Delay(1); // now and then, so the reader finds a part and waits for the rest
        }
    }

    private static async Task<UpstreamAnswer> ReadAsync(UpstreamConnection connection, ulong tag = Tag, bool isHead = false, bool isLast = true)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await connection.ReadAnswerAsync(tag, isHead, isLast, bound.Token);
    }

    private static async Task SendOneAsync(UpstreamConnection connection, int count = 1)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await connection.SendAsync("GET /kvs/a HTTP/1.1\r\n\r\n"u8.ToArray(), default, count, bound.Token);
    }

    private static string BodyOf(UpstreamAnswer answer) => Encoding.Latin1.GetString(answer.Body.Memory.Span);

    private static string Chunked(string body, int chunk)
    {
        var text = new StringBuilder();
        for (var at = 0; at < body.Length; at += chunk)
        {
            var part = body.Substring(at, Math.Min(chunk, body.Length - at));
            text.Append($"{part.Length:x};ext=1\r\n{part}\r\n");
        }
        return text.Append("0\r\nX-Trailer: t\r\n\r\n").ToString();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public async Task Answers_are_framed_exactly_however_the_bytes_arrive(int piece)
    {
        var (connection, main) = await PairAsync();
        var large = new string('v', 6_000); // past the first 4 KiB buffer
        await SendOneAsync(connection, count: 3);
        var writing = WriteInPiecesAsync(main,
            "HTTP/1.1 100 Continue\r\n\r\n" +
            Tagged($"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n") + "first" +
            Tagged("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 2) + Chunked(large, 1000) +
            Tagged($"HTTP/1.1 201 Created\r\nContent-Length: {large.Length}\r\n\r\n", 3) + large, piece);

        var first = await ReadAsync(connection, isLast: false);
        var second = await ReadAsync(connection, tag: 2, isLast: false);
        var third = await ReadAsync(connection, tag: 3, isLast: true);
        await writing;

        Assert.Equal((200, "first"), (first.Head.Status, BodyOf(first)));
        Assert.Equal((200, large), (second.Head.Status, BodyOf(second)));
        Assert.Equal((201, large), (third.Head.Status, BodyOf(third)));
        Assert.False(third.Head.Close);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public async Task A_304_ends_at_its_head_and_keeps_its_etag(int piece)
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection, count: 3);
        await WriteInPiecesAsync(main,
            Tagged("HTTP/1.1 304 Not Modified\r\nETag: \"s-1\"\r\n\r\n") +
            Tagged("HTTP/1.1 412 Precondition Failed\r\nETag: \"s-2\"\r\nContent-Length: 2\r\n\r\n", 2) + "{}" +
            Tagged("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", 3) + "a", piece);

        var notModified = await ReadAsync(connection, isLast: false);
        var failed = await ReadAsync(connection, tag: 2, isLast: false);
        var plain = await ReadAsync(connection, tag: 3);

        Assert.Equal((304, "\"s-1\"", ""), (notModified.Head.Status, notModified.Head.ETag, BodyOf(notModified)));
        Assert.Equal((412, "\"s-2\"", "{}"), (failed.Head.Status, failed.Head.ETag, BodyOf(failed)));
        Assert.Equal((200, null, "a"), (plain.Head.Status, plain.Head.ETag, BodyOf(plain)));
        Assert.False(plain.Head.Close);
    }

    [Fact]
    public async Task A_head_larger_than_the_first_buffer_is_read_whole_and_one_past_the_bound_is_refused()
    {
        var (connection, main) = await PairAsync();
        var fields = string.Concat(Enumerable.Range(0, 300).Select(i => $"X-Field-{i}: {new string('f', 40)}\r\n"));
        await SendOneAsync(connection, count: 2);
        await WriteInPiecesAsync(main, Tagged($"HTTP/1.1 200 OK\r\n{fields}Content-Length: 2\r\n\r\n") + "ok", 1000);
        var answer = await ReadAsync(connection, isLast: false);
        Assert.Equal("ok", BodyOf(answer));

        var tooLarge = string.Concat(Enumerable.Range(0, 1700).Select(i => $"X-Field-{i}: {new string('f', 40)}\r\n"));
        await WriteInPiecesAsync(main, Tagged($"HTTP/1.1 200 OK\r\n{tooLarge}Content-Length: 2\r\n\r\n", 2) + "ok", 8192);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => ReadAsync(connection, tag: 2));
        Assert.Contains("head too large", refused.Message);
    }

    [Fact]
    public async Task An_answer_with_another_requests_tag_is_refused()
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection);
        await WriteInPiecesAsync(main, Tagged("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", Tag + 1), 4096);

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => ReadAsync(connection));
        Assert.Contains("not tied to its request", refused.Message);
    }

    [Fact]
    public async Task An_untagged_answer_is_relayed_only_as_the_one_answer_to_the_one_request_and_ends_the_connection()
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection);
        await WriteInPiecesAsync(main, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 4096);
        var answer = await ReadAsync(connection);
        Assert.Equal("ok", BodyOf(answer));
        Assert.True(answer.Head.Close);
        Assert.Equal(ExchangeTag.None, answer.Head.Tag);
    }

    [Fact]
    public async Task An_untagged_answer_after_another_on_the_same_connection_is_refused()
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection);
        await WriteInPiecesAsync(main, Tagged("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 4096);
        await ReadAsync(connection);
        await SendOneAsync(connection);
        await WriteInPiecesAsync(main, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4096);

        await Assert.ThrowsAsync<HttpRequestException>(() => ReadAsync(connection));
    }

    [Fact]
    public async Task An_untagged_answer_to_a_batch_is_refused()
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection, count: 2);
        await WriteInPiecesAsync(main, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4096);

        await Assert.ThrowsAsync<HttpRequestException>(() => ReadAsync(connection, isLast: false));
    }

    [Fact]
    public async Task Switching_protocols_is_refused()
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection);
        await WriteInPiecesAsync(main, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", 4096);

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => ReadAsync(connection));
        Assert.Contains("101", refused.Message);
    }

    [Theory]
    [InlineData("HEAD", 200)]
    [InlineData("GET", 204)]
    [InlineData("GET", 304)]
    public async Task An_answer_that_has_no_body_is_read_without_one_whatever_it_announces(string method, int status)
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection, count: 2);
        await WriteInPiecesAsync(main, Tagged($"HTTP/1.1 {status} X\r\nContent-Length: 1234\r\n\r\n") +
            Tagged("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", 2) + "next", 4096);

        var bodiless = await ReadAsync(connection, isHead: method == "HEAD", isLast: false);
        var next = await ReadAsync(connection, tag: 2);

        Assert.Equal(0, bodiless.Body.Length);
        Assert.Equal(1234, bodiless.Head.ContentLength);
        Assert.Equal("next", BodyOf(next));
    }

    [Fact]
    public async Task An_answer_without_a_length_ends_with_the_connection()
    {
        var (connection, main) = await PairAsync();
        var body = new string('e', 9000);
        await SendOneAsync(connection);
        await WriteInPiecesAsync(main, Tagged("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n") + body, 1000);
        main.Shutdown(SocketShutdown.Send);

        var answer = await ReadAsync(connection);

        Assert.Equal(body, BodyOf(answer));
        Assert.True(answer.Head.Close);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nshort")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-")]
    public async Task An_answer_cut_short_is_an_ended_response(string text)
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection);
        await WriteInPiecesAsync(main, Tagged(text), 4096);
        main.Shutdown(SocketShutdown.Send);

        var ended = await Assert.ThrowsAsync<HttpIOException>(() => ReadAsync(connection));
        Assert.Equal(HttpRequestError.ResponseEnded, ended.HttpRequestError);
        Assert.True(connection.ReceivedAny == text.Length > 0);
    }

    [Fact]
    public async Task A_chunk_not_followed_by_its_line_end_is_refused()
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection);
        await WriteInPiecesAsync(main, Tagged("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + "2\r\nokXX0\r\n\r\n", 4096);

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => ReadAsync(connection));
        Assert.Contains("CRLF", refused.Message);
    }

    [Fact]
    public async Task Bytes_beyond_the_last_answer_end_the_connection_and_none_beyond_an_earlier_one_do()
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection, count: 2);
        await WriteInPiecesAsync(main, Tagged("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n") + "a" +
            Tagged("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", 2) + "b" + "stray", 4096);

        var first = await ReadAsync(connection, isLast: false);
        var last = await ReadAsync(connection, tag: 2);

        Assert.False(first.Head.Close);
        Assert.True(last.Head.Close);
    }

    [Fact]
    public async Task Stray_bytes_on_an_idle_connection_are_seen_before_it_is_reused()
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection);
        await WriteInPiecesAsync(main, Tagged("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n") + "a", 4096);
        await ReadAsync(connection);
        Assert.False(connection.HasStrayBytes);

        await main.SendAsync("HTTP/1.1 200 OK\r\n"u8.ToArray());

        Assert.True(Support.Poll.Until(() => connection.HasStrayBytes, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_request_and_its_large_body_arrive_as_sent()
    {
        var (connection, main) = await PairAsync();
        var body = Encoding.ASCII.GetBytes(new string('b', 200_000));
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var head = "PUT /kvs/a HTTP/1.1\r\nContent-Length: 200000\r\n\r\n"u8.ToArray();

        var sending = connection.SendAsync(head, body, 1, bound.Token).AsTask();
        var received = new byte[head.Length + body.Length];
        for (var at = 0; at < received.Length;)
            at += await main.ReceiveAsync(received.AsMemory(at));
        await sending;

        Assert.Equal([.. head, .. body], received);
        Assert.False(connection.ReceivedAny);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_answer_over_the_budget_is_read_and_dropped_and_the_next_answer_is_whole(bool chunked)
    {
        var budget = new BufferBudget(16 * 1024);
        var (connection, main) = await PairAsync(budget);
        var large = new string('l', 50_000);
        await SendOneAsync(connection, count: 2);
        var writing = WriteInPiecesAsync(main,
            (chunked
                ? Tagged("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + Chunked(large, 3000)
                : Tagged($"HTTP/1.1 200 OK\r\nContent-Length: {large.Length}\r\n\r\n") + large) +
            Tagged("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", 2) + "next", 1500);

        var over = await Assert.ThrowsAsync<AnswerOverBudgetException>(() => ReadAsync(connection, isLast: false));
        var next = await ReadAsync(connection, tag: 2);
        await writing;

        Assert.True(over.InStep);
        Assert.Equal("next", BodyOf(next));
        Assert.Equal(4, budget.InUse);
        next.Body.Dispose();
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task An_answer_over_the_budget_that_ends_with_the_connection_is_not_in_step()
    {
        var budget = new BufferBudget(8 * 1024);
        var (connection, main) = await PairAsync(budget);
        await SendOneAsync(connection);
        await WriteInPiecesAsync(main, Tagged("HTTP/1.1 200 OK\r\n\r\n") + new string('l', 30_000), 4096);
        main.Shutdown(SocketShutdown.Send);

        var over = await Assert.ThrowsAsync<AnswerOverBudgetException>(() => ReadAsync(connection));

        Assert.False(over.InStep);
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task A_small_answer_is_held_even_when_the_budget_is_spent_and_counted_while_held()
    {
        var budget = new BufferBudget(100);
        budget.ReserveAnyway(100);
        var (connection, main) = await PairAsync(budget);
        var body = new string('s', UpstreamConnection.AlwaysHeldBytes);
        await SendOneAsync(connection, count: 2);
        await WriteInPiecesAsync(main, Tagged($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n") + body +
            Tagged($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length + 1}\r\n\r\n", 2) + body + "x", 4096);

        var held = await ReadAsync(connection, isLast: false);
        Assert.Equal(body, BodyOf(held));
        Assert.Equal(100 + body.Length, budget.InUse);
        held.Body.Dispose();
        Assert.Equal(100, budget.InUse);
        await Assert.ThrowsAsync<AnswerOverBudgetException>(() => ReadAsync(connection, tag: 2)); // one byte more is not
    }

    [Fact]
    public async Task A_body_that_grows_is_counted_as_it_grows_and_given_back_whole()
    {
        var budget = new BufferBudget(1 << 20);
        var (connection, main) = await PairAsync(budget);
        var large = new string('g', 300_000);
        await SendOneAsync(connection);
        var writing = WriteInPiecesAsync(main, Tagged("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + Chunked(large, 7000), 5000);

        var answer = await ReadAsync(connection);
        await writing;

        Assert.Equal(large, BodyOf(answer));
        Assert.InRange(budget.InUse, large.Length, 2L * large.Length);
        answer.Body.Dispose();
        Assert.Equal(0, budget.InUse);
    }

    public void Dispose()
    {
        foreach (var owned in _owned)
            owned.Dispose();
        _listener.Stop();
    }
}
