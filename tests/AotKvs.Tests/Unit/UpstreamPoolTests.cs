using System.Net.Sockets;
using System.Net;
using AotKvs.Configuration;
using AotKvs.Forwarding.Client;
using AotKvs.Protocol;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The pool of kept connections to main: which come back, which are closed, and that none
/// with stray bytes, of an older generation or beyond the bound is ever handed out again.
/// Main's side of each connection tells whether the pool closed it.
/// </summary>
[Trait("Category", "Unit")]
public sealed class UpstreamPoolTests : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<Socket> _mainSides = [];
    private readonly UpstreamPool _pool;

    public UpstreamPoolTests()
    {
        _listener.Start();
        _pool = new UpstreamPool(2, DialAsync, BufferBudget.Unlimited);
    }

    private async ValueTask<Socket> DialAsync(CancellationToken cancel)
    {
        var client = new Socket(SocketType.Stream, ProtocolType.Tcp);
        var accepting = _listener.AcceptSocketAsync(cancel);
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)_listener.LocalEndpoint).Port, cancel);
        var main = await accepting;
        lock (_mainSides)
            _mainSides.Add(main);
        return client;
    }

    private async Task<UpstreamConnection> OpenAsync()
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await _pool.OpenAsync(bound.Token);
    }

    /// <summary>Whether the pool closed the connection whose main side is <paramref name="index"/> (main reads its end).</summary>
    private bool ClosedByPool(int index)
    {
        var main = _mainSides[index];
        return Poll.Until(() => main.Poll(0, SelectMode.SelectRead) && main.Available == 0, TimeSpan.FromSeconds(5));
    }

    private bool StillOpen(int index)
    {
        var main = _mainSides[index];
        return !(main.Poll(50_000, SelectMode.SelectRead) && main.Available == 0);
    }

    [Fact]
    public async Task A_returned_connection_is_handed_out_again_most_recent_first()
    {
        var first = await OpenAsync();
        var second = await OpenAsync();
        _pool.Return(first, close: false);
        _pool.Return(second, close: false);

        Assert.Same(second, _pool.TakeIdle());
        Assert.Same(first, _pool.TakeIdle());
        Assert.Null(_pool.TakeIdle());
        Assert.True(StillOpen(0) && StillOpen(1));
    }

    [Fact]
    public async Task A_connection_returned_to_be_closed_is_closed()
    {
        var connection = await OpenAsync();
        _pool.Return(connection, close: true);

        Assert.Null(_pool.TakeIdle());
        Assert.True(ClosedByPool(0));
    }

    [Fact]
    public async Task Beyond_the_bound_a_returned_connection_is_closed()
    {
        var connections = new[] { await OpenAsync(), await OpenAsync(), await OpenAsync() };
        foreach (var connection in connections)
            _pool.Return(connection, close: false);

        Assert.True(ClosedByPool(2));
        Assert.True(StillOpen(0) && StillOpen(1));
        Assert.NotNull(_pool.TakeIdle());
        Assert.NotNull(_pool.TakeIdle());
        Assert.Null(_pool.TakeIdle());
    }

    [Fact]
    public async Task After_a_failure_the_idle_are_closed_and_those_in_use_never_come_back()
    {
        var idle = await OpenAsync();
        var inUse = await OpenAsync();
        _pool.Return(idle, close: false);

        _pool.DropIdle();
        _pool.Return(inUse, close: false); // opened before the failure

        Assert.True(ClosedByPool(0));
        Assert.True(ClosedByPool(1));
        Assert.Null(_pool.TakeIdle());

        var fresh = await OpenAsync(); // of the new generation: kept
        _pool.Return(fresh, close: false);
        Assert.Same(fresh, _pool.TakeIdle());
    }

    [Fact]
    public async Task An_idle_connection_main_wrote_on_is_closed_instead_of_handed_out()
    {
        var quiet = await OpenAsync();
        var written = await OpenAsync();
        _pool.Return(quiet, close: false);
        _pool.Return(written, close: false);
        await _mainSides[1].SendAsync("HTTP/1.1 200 OK\r\n"u8.ToArray());
        Assert.True(Poll.Until(() => written.HasStrayBytes, TimeSpan.FromSeconds(5)));

        Assert.Same(quiet, _pool.TakeIdle()); // the written one, on top, is passed over

        Assert.True(ClosedByPool(1));
        Assert.Null(_pool.TakeIdle());
    }

    [Fact]
    public async Task Disposing_the_pool_closes_every_idle_connection()
    {
        _pool.Return(await OpenAsync(), close: false);
        _pool.Return(await OpenAsync(), close: false);

        _pool.Dispose();

        Assert.True(ClosedByPool(0));
        Assert.True(ClosedByPool(1));
    }

    private static ForwardingTarget Target(int port)
    {
        Assert.True(ForwardingTarget.TryParse($"127.0.0.1:{port}", out var target, out var problem), problem);
        return target!;
    }

    [Fact]
    public async Task Dialling_main_gives_a_connected_socket_that_sends_small_writes_at_once()
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var accepting = _listener.AcceptSocketAsync(bound.Token);

        using var socket = await UpstreamPool.DialAsync(Target(((IPEndPoint)_listener.LocalEndpoint).Port), bound.Token);
        using var main = await accepting;

        Assert.True(socket.Connected);
        Assert.Equal(((IPEndPoint)main.RemoteEndPoint!).Port, ((IPEndPoint)socket.LocalEndPoint!).Port); // the two ends of one connection
        Assert.True(socket.NoDelay); // no Nagle delay on a request head
    }

    [Fact]
    public async Task Dialling_where_nothing_listens_fails_with_the_refusal()
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        var refused = await Assert.ThrowsAsync<SocketException>(async () => await UpstreamPool.DialAsync(Target(FreePort.Next()), bound.Token));

        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    public void Dispose()
    {
        _pool.Dispose();
        foreach (var main in _mainSides)
            main.Dispose();
        _listener.Stop();
    }
}
