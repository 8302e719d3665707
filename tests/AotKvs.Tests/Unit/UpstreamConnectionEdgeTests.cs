using System.Buffers;
using System.Net.Sockets;
using System.Net;
using System.Text;
using AotKvs.Forwarding.Client;
using AotKvs.Protocol;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The connection to main at its edges: what a new send forgets of the exchange before, the
/// exact bounds of its framing checks, when it counts as used, and that every byte it held
/// (budget, shared pool) is given back when an answer is cut short or the connection closed.
/// </summary>
[Trait("Category", "Unit")]
public sealed class UpstreamConnectionEdgeTests : IDisposable
{
    private const ulong Tag = 0x2a;
    private readonly TcpListener _listener = new(IPAddress.Loopback, FreePort.Next());
    private readonly List<IDisposable> _owned = [];

    public UpstreamConnectionEdgeTests() => _listener.Start();

    private async Task<(Socket Client, Socket Main)> SocketsAsync()
    {
        var client = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accepting = _listener.AcceptSocketAsync();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)_listener.LocalEndpoint).Port);
        var main = await accepting;
        main.NoDelay = true;
        _owned.Add(main);
        return (client, main);
    }

    private async Task<(UpstreamConnection Connection, Socket Main)> PairAsync(BufferBudget? budget = null)
    {
        var (client, main) = await SocketsAsync();
        var connection = new UpstreamConnection(client, 0, budget ?? BufferBudget.Unlimited);
        _owned.Add(connection);
        return (connection, main);
    }

    private static string Tagged(string head, ulong tag = Tag)
    {
        var lineEnd = head.IndexOf("\r\n", StringComparison.Ordinal);
        return head[..(lineEnd + 2)] + $"Kvs-Tag: {tag:x16}\r\n" + head[(lineEnd + 2)..];
    }

    private static async Task WriteAsync(Socket main, string text) => await main.SendAsync(Encoding.Latin1.GetBytes(text), SocketFlags.None);

    private static async Task<UpstreamAnswer> ReadAsync(UpstreamConnection connection, ulong tag = Tag, bool isLast = true)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await connection.ReadAnswerAsync(tag, false, isLast, bound.Token);
    }

    private static async Task SendOneAsync(UpstreamConnection connection, int count = 1)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await connection.SendAsync("GET /kvs/a HTTP/1.1\r\n\r\n"u8.ToArray(), default, count, bound.Token);
    }

    private static string BodyOf(UpstreamAnswer answer) => Encoding.Latin1.GetString(answer.Body.Memory.Span);

    [Fact]
    public async Task A_new_send_forgets_bytes_left_from_the_exchange_before_and_what_arrived_then()
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection);
        await WriteAsync(main, Tagged("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n") + "a" + "HTTP/1.1 stray");
        Assert.Equal("a", BodyOf(await ReadAsync(connection)));
        Assert.True(connection.ReceivedAny);

        await SendOneAsync(connection);
        Assert.False(connection.ReceivedAny);
        await WriteAsync(main, Tagged("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", 2) + "b");
        var next = await ReadAsync(connection, tag: 2);

        Assert.Equal((200, "b"), (next.Head.Status, BodyOf(next)));
        Assert.True(connection.ReceivedAny);
    }

    [Fact]
    public async Task A_connection_counts_as_used_when_an_answer_is_read_whole()
    {
        var (connection, main) = await PairAsync();
        var opened = connection.LastUsed;
        Assert.InRange(opened, 1, System.Diagnostics.Stopwatch.GetTimestamp());
        await SendOneAsync(connection);
        await WriteAsync(main, Tagged("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n") + "a");

        await ReadAsync(connection);

        Assert.True(connection.LastUsed > opened);
    }

    [Theory]
    [InlineData("ok\rX")]
    [InlineData("okX\n")]
    [InlineData("ok\n\r")]
    public async Task A_chunk_followed_by_anything_but_its_line_end_is_refused(string after)
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection);
        await WriteAsync(main, Tagged("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + "2\r\n" + after + "0\r\n\r\n");

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => ReadAsync(connection));
        Assert.Contains("CRLF", refused.Message);
    }

    [Fact]
    public async Task A_chunk_line_end_that_arrives_a_byte_at_a_time_is_read()
    {
        var budget = new BufferBudget(1 << 20);
        var (connection, main) = await PairAsync(budget);
        await SendOneAsync(connection);
        await WriteAsync(main, Tagged("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + "2\r\nok");
        var reading = ReadAsync(connection);
        foreach (var piece in new[] { "\r", "\n", "0\r\n", "\r\n" })
        {
            await Task.Delay(20);
            await WriteAsync(main, piece);
        }

        var answer = await reading;
        Assert.Equal("ok", BodyOf(answer));
        Assert.False(answer.Head.Close);
        answer.Body.Dispose();
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task A_length_past_what_an_array_holds_is_refused()
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection);
        await WriteAsync(main, Tagged($"HTTP/1.1 200 OK\r\nContent-Length: {(long)Array.MaxLength + 1}\r\n\r\n"));

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => ReadAsync(connection));
        Assert.Contains("too large", refused.Message);
    }

    [Fact]
    public async Task An_empty_body_of_length_zero_ends_at_its_head()
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection, count: 2);
        await WriteAsync(main, Tagged("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") + Tagged("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 2));

        var first = await ReadAsync(connection, isLast: false);
        var second = await ReadAsync(connection, tag: 2);

        Assert.Equal((200, 0, false), (first.Head.Status, first.Body.Length, first.Head.Close));
        Assert.Equal((201, 0, false), (second.Head.Status, second.Body.Length, second.Head.Close));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nshort")]                            // held whatever the budget
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 50000\r\n\r\nshort")]                           // reserved from the budget
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\nshort")]             // growing
    [InlineData("HTTP/1.1 200 OK\r\n\r\nsome of it")]                                              // to the end, then reset
    public async Task What_an_answer_cut_short_held_is_given_back(string text)
    {
        var budget = new BufferBudget(1 << 20);
        var (connection, main) = await PairAsync(budget);
        await SendOneAsync(connection);
        await WriteAsync(main, Tagged(text));
        await Task.Delay(20);
        if (text.Contains("Length", StringComparison.Ordinal) || text.Contains("chunked", StringComparison.Ordinal))
            main.Shutdown(SocketShutdown.Send);
        else
            main.Close(); // no framing: a reset, not an end

        await Assert.ThrowsAnyAsync<Exception>(() => ReadAsync(connection));
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task A_body_that_grows_past_the_budget_is_dropped_and_what_it_held_given_back()
    {
        var budget = new BufferBudget(8 * 1024);
        var (connection, main) = await PairAsync(budget);
        await SendOneAsync(connection, count: 2);
        var chunks = string.Concat(Enumerable.Range(0, 10).Select(_ => "800\r\n" + new string('c', 0x800) + "\r\n")) + "0\r\n\r\n";
        var writing = WriteAsync(main, Tagged("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + chunks + Tagged("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", 2) + "ok");

        var over = await Assert.ThrowsAsync<AnswerOverBudgetException>(() => ReadAsync(connection, isLast: false));
        Assert.True(over.InStep);
        Assert.Equal(0, budget.InUse);
        var next = await ReadAsync(connection, tag: 2);
        await writing;
        Assert.Equal("ok", BodyOf(next));
    }

    [Fact]
    public async Task A_body_dropped_past_the_budget_holds_none_of_it_while_the_rest_is_read()
    {
        var budget = new BufferBudget(8 * 1024);
        var (connection, main) = await PairAsync(budget);
        await SendOneAsync(connection);
        var chunk = "800\r\n" + new string('c', 0x800) + "\r\n";
        await WriteAsync(main, Tagged("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + chunk);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var reading = connection.ReadAnswerAsync(Tag, false, true, bound.Token).AsTask();
        Assert.True(Poll.Until(() => budget.InUse > 0, TimeSpan.FromSeconds(10)), "the first chunk was never held");

        await WriteAsync(main, string.Concat(Enumerable.Repeat(chunk, 5))); // past the budget; the body is not over yet

        Assert.True(Poll.Until(() => budget.InUse == 0, TimeSpan.FromSeconds(10)), $"{budget.InUse} bytes still held while the body is dropped");
        Assert.False(reading.IsCompleted);
        await WriteAsync(main, "0\r\n\r\n");
        Assert.True((await Assert.ThrowsAsync<AnswerOverBudgetException>(() => reading)).InStep);
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task A_small_chunked_body_reserves_little_and_a_large_one_grows_by_doubling()
    {
        var budget = new BufferBudget(1 << 20);
        var (connection, main) = await PairAsync(budget);
        await SendOneAsync(connection, count: 2);
        var large = new string('g', 10_000);
        await WriteAsync(main, Tagged("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + "3\r\nabc\r\n0\r\n\r\n");

        var small = await ReadAsync(connection, isLast: false);
        Assert.Equal("abc", BodyOf(small));
        Assert.Equal(256, budget.InUse); // the least a growing body reserves
        small.Body.Dispose();

        var writing = WriteAsync(main, Tagged("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 2)
            + string.Concat(Enumerable.Range(0, 10).Select(_ => "3e8\r\n" + new string('g', 1000) + "\r\n")) + "0\r\n\r\n");
        var grown = await ReadAsync(connection, tag: 2);
        await writing;
        Assert.Equal(large, BodyOf(grown));
        Assert.InRange(budget.InUse, large.Length, 2 * large.Length);
        grown.Body.Dispose();
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task Closing_gives_the_read_buffer_back_to_the_shared_pool_once()
    {
        var (client, _) = await SocketsAsync();
        var initial = ArrayPool<byte>.Shared.Rent(4096);
        ArrayPool<byte>.Shared.Return(initial); // the next of that size this thread rents

        var connection = new UpstreamConnection(client, 0, BufferBudget.Unlimited);
        connection.Dispose();
        connection.Dispose();

        Assert.Same(initial, ArrayPool<byte>.Shared.Rent(4096));
        Assert.NotSame(initial, ArrayPool<byte>.Shared.Rent(4096));
        Assert.Throws<ObjectDisposedException>(() => connection.HasStrayBytes);
    }

    [Fact]
    public async Task A_connection_knows_its_generation()
    {
        var (client, _) = await SocketsAsync();
        using var connection = new UpstreamConnection(client, 7, BufferBudget.Unlimited);
        Assert.Equal(7, connection.Generation);
    }

    [Fact]
    public async Task A_failure_before_any_answer_byte_is_stale_only_when_it_is_the_connections_and_not_the_bound()
    {
        var (connection, main) = await PairAsync();
        await SendOneAsync(connection);
        var ended = new HttpIOException(HttpRequestError.ResponseEnded);
        var reset = new SocketException((int)SocketError.ConnectionReset);
        using var fired = new CancellationTokenSource();
        fired.Cancel();

        Assert.True(connection.FailedBeforeAnyAnswer(ended, CancellationToken.None));
        Assert.True(connection.FailedBeforeAnyAnswer(reset, CancellationToken.None));
        Assert.False(connection.FailedBeforeAnyAnswer(new OperationCanceledException(), CancellationToken.None));
        Assert.False(connection.FailedBeforeAnyAnswer(new HttpRequestException("invalid"), CancellationToken.None));
        Assert.False(connection.FailedBeforeAnyAnswer(ended, fired.Token));

        await WriteAsync(main, "HTTP/1.1 2");
        main.Shutdown(SocketShutdown.Send);
        await Assert.ThrowsAsync<HttpIOException>(() => ReadAsync(connection));
        Assert.False(connection.FailedBeforeAnyAnswer(ended, CancellationToken.None));
    }

    public void Dispose()
    {
        foreach (var owned in _owned)
            owned.Dispose();
        _listener.Stop();
    }
}
