using System.Net.Sockets;
using System.Net;
using System.Text;
using AotKvs.Forwarding.Client;
using AotKvs.Protocol;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// One request through the pool, main's side written by the test: which connection carries
/// it, which comes back to the pool, which is closed, and the one retry on a fresh connection
/// when a pooled one turns out to have been closed by main while idle.
/// </summary>
[Trait("Category", "Unit")]
public sealed class UpstreamPoolExchangeTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly TcpListener _listener = new(IPAddress.Loopback, FreePort.Next());
    private readonly List<Socket> _mainSides = [];
    private readonly BufferBudget _budget = new(1 << 20);
    private readonly UpstreamPool _pool;
    private int _dials;

    public UpstreamPoolExchangeTests()
    {
        _listener.Start();
        _pool = new UpstreamPool(2, DialAsync, _budget);
    }

    private async ValueTask<Socket> DialAsync(CancellationToken cancel)
    {
        Interlocked.Increment(ref _dials);
        var client = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accepting = _listener.AcceptSocketAsync(cancel);
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)_listener.LocalEndpoint).Port, cancel);
        var main = await accepting;
        lock (_mainSides)
            _mainSides.Add(main);
        return client;
    }

    private Socket Main(int index)
    {
        Assert.True(Poll.Until(() => { lock (_mainSides) return _mainSides.Count > index; }, Bound), $"connection {index} was never dialled");
        lock (_mainSides)
            return _mainSides[index];
    }

    private static UpstreamRequest Get(ulong tag) =>
        new(Encoding.ASCII.GetBytes($"GET /kvs/k{tag} HTTP/1.1\r\nKvs-Tag: {tag:x16}\r\n\r\n"), default, tag, false);

    private static string AnswerTo(ulong tag, string extra = "") =>
        $"HTTP/1.1 200 OK\r\nKvs-Tag: {tag:x16}\r\n{extra}Content-Length: {$"v{tag}".Length}\r\n\r\nv{tag}";

    /// <summary>Main reads one request on <paramref name="main"/> and writes <paramref name="answer"/> (or nothing), then maybe closes.</summary>
    private static async Task ServeOneAsync(Socket main, string? answer, bool close = false)
    {
        using var bound = new CancellationTokenSource(Bound);
        var received = "";
        var buffer = new byte[4096];
        while (!received.Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await main.ReceiveAsync(buffer, SocketFlags.None, bound.Token);
            if (n == 0)
                throw new IOException("the forwarder closed before a whole request");
            received += Encoding.Latin1.GetString(buffer, 0, n);
        }
        if (answer is not null)
            await main.SendAsync(Encoding.Latin1.GetBytes(answer), SocketFlags.None);
        if (close)
            main.Close();
    }

    private async Task<UpstreamAnswer> SendAsync(ulong tag, bool keepAlive = true)
    {
        using var bound = new CancellationTokenSource(Bound);
        return await _pool.SendAsync(Get(tag), keepAlive, bound.Token);
    }

    private static string BodyOf(UpstreamAnswer answer) => Encoding.Latin1.GetString(answer.Body.Memory.Span);

    private static bool ClosedByPool(Socket main)
    {
        var scratch = new byte[4096];
        return Poll.Until(() =>
        {
            while (main.Available > 0)
                main.Receive(scratch);
            return main.Poll(0, SelectMode.SelectRead) && main.Available == 0;
        }, Bound);
    }

    private static bool StillOpen(Socket main) => !(main.Poll(50_000, SelectMode.SelectRead) && main.Available == 0);

    /// <summary>A connection in the pool that has carried one exchange; main's side is <see cref="Main"/>(0).</summary>
    private async Task<UpstreamConnection> PooledAsync()
    {
        var sending = SendAsync(1);
        await ServeOneAsync(Main(0), AnswerTo(1));
        (await sending).Body.Dispose();
        var pooled = _pool.TakeIdle();
        Assert.NotNull(pooled);
        _pool.Return(pooled, close: false);
        return pooled;
    }

    [Fact]
    public async Task A_kept_alive_exchange_goes_on_the_pooled_connection_which_comes_back()
    {
        var pooled = await PooledAsync();

        var sending = SendAsync(2);
        await ServeOneAsync(Main(0), AnswerTo(2));
        var answer = await sending;

        Assert.Equal("v2", BodyOf(answer));
        Assert.Equal(1, _dials);
        Assert.Same(pooled, _pool.TakeIdle());
        answer.Body.Dispose();
        Assert.Equal(0, _budget.InUse);
    }

    [Fact]
    public async Task An_exchange_not_kept_alive_goes_alone_on_a_fresh_connection_which_is_closed_after_it()
    {
        var pooled = await PooledAsync();

        var sending = SendAsync(2, keepAlive: false);
        await ServeOneAsync(Main(1), AnswerTo(2));
        var answer = await sending;

        Assert.Equal("v2", BodyOf(answer));
        Assert.Equal(2, _dials);
        Assert.True(ClosedByPool(Main(1)));
        Assert.True(StillOpen(Main(0)));
        Assert.Same(pooled, _pool.TakeIdle()); // untouched
        Assert.Null(_pool.TakeIdle());
    }

    [Fact]
    public async Task A_first_exchange_dials_and_keeps_its_connection()
    {
        var sending = SendAsync(1);
        await ServeOneAsync(Main(0), AnswerTo(1));

        Assert.Equal("v1", BodyOf(await sending));
        Assert.Equal(1, _dials);
        Assert.NotNull(_pool.TakeIdle());
    }

    [Fact]
    public async Task An_answer_that_says_close_closes_its_connection()
    {
        await PooledAsync();

        var sending = SendAsync(2);
        await ServeOneAsync(Main(0), AnswerTo(2, "Connection: close\r\n"));

        Assert.Equal("v2", BodyOf(await sending));
        Assert.True(ClosedByPool(Main(0)));
        Assert.Null(_pool.TakeIdle());
    }

    [Fact]
    public async Task A_pooled_connection_main_closed_while_idle_is_closed_and_the_request_goes_once_more_on_a_fresh_one()
    {
        var stale = await PooledAsync();
        Main(0).Close();

        var sending = SendAsync(2);
        await ServeOneAsync(Main(1), AnswerTo(2));

        Assert.Equal("v2", BodyOf(await sending));
        Assert.Equal(2, _dials);
        var kept = _pool.TakeIdle();
        Assert.NotNull(kept);
        Assert.NotSame(stale, kept);
        Assert.Null(_pool.TakeIdle());
        Assert.Throws<ObjectDisposedException>(() => stale.HasStrayBytes); // the stale one was closed
    }

    [Fact]
    public async Task A_pooled_connection_that_fails_after_answer_bytes_is_closed_and_nothing_goes_again()
    {
        await PooledAsync();

        var sending = SendAsync(2);
        await ServeOneAsync(Main(0), AnswerTo(2)[..20], close: true);

        await Assert.ThrowsAsync<HttpIOException>(() => sending);
        Assert.Equal(1, _dials);
        Assert.Null(_pool.TakeIdle());
    }

    [Fact]
    public async Task A_pooled_connection_whose_answer_is_refused_is_closed_and_nothing_goes_again()
    {
        await PooledAsync();

        var sending = SendAsync(2);
        await ServeOneAsync(Main(0), AnswerTo(3));

        await Assert.ThrowsAsync<HttpRequestException>(() => sending);
        Assert.True(ClosedByPool(Main(0)));
        Assert.Equal(1, _dials);
        Assert.Null(_pool.TakeIdle());
    }

    [Fact]
    public async Task A_pooled_connection_cut_off_by_the_bound_is_not_retried()
    {
        await PooledAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        var sending = _pool.SendAsync(Get(2), true, bound.Token).AsTask();
        await ServeOneAsync(Main(0), null); // main reads it and never answers

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sending);
        Assert.True(ClosedByPool(Main(0)));
        Assert.Equal(1, _dials);
        Assert.Null(_pool.TakeIdle());
    }

    [Fact]
    public async Task A_fresh_connection_that_fails_is_closed_and_not_retried()
    {
        var sending = SendAsync(1);
        await ServeOneAsync(Main(0), AnswerTo(2));

        await Assert.ThrowsAsync<HttpRequestException>(() => sending);
        Assert.True(ClosedByPool(Main(0)));
        Assert.Equal(1, _dials);
        Assert.Null(_pool.TakeIdle());
    }

    [Fact]
    public async Task Closing_the_idle_keeps_the_order_of_the_rest()
    {
        var connections = new List<UpstreamConnection>();
        using var bound = new CancellationTokenSource(Bound);
        for (var i = 0; i < 2; i++)
            connections.Add(await _pool.OpenAsync(bound.Token));
        foreach (var connection in connections)
            _pool.Return(connection, close: false);
        _pool.DropIdle();
        var fresh = await _pool.OpenAsync(bound.Token);
        var other = await _pool.OpenAsync(bound.Token);
        _pool.Return(fresh, close: false);
        _pool.Return(other, close: false);

        Assert.Same(other, _pool.TakeIdle());
        Assert.Same(fresh, _pool.TakeIdle());
        Assert.Null(_pool.TakeIdle());
        Assert.True(ClosedByPool(Main(0)) && ClosedByPool(Main(1)));
        Assert.True(StillOpen(Main(2)) && StillOpen(Main(3)));
    }

    public void Dispose()
    {
        _pool.Dispose();
        lock (_mainSides)
            foreach (var main in _mainSides)
                main.Dispose();
        _listener.Stop();
    }
}
