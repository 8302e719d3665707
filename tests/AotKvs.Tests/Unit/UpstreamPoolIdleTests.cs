using System.Diagnostics;
using System.Net.Sockets;
using System.Net;
using AotKvs.Forwarding.Client;
using AotKvs.Protocol;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// Idle connections past the pool's idle timeout (shortened here to seconds): the sweeper
/// closes them from the oldest up, and one it has not reached yet is never handed out.
/// Each test's timing leaves the better part of a second between what must and what must
/// not have happened.
/// </summary>
[Trait("Category", "Unit")]
public sealed class UpstreamPoolIdleTests : IDisposable
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(2);
    private readonly TcpListener _listener = new(IPAddress.Loopback, FreePort.Next());
    private readonly List<Socket> _mainSides = [];
    private readonly UpstreamPool _pool;

    public UpstreamPoolIdleTests()
    {
        _listener.Start();
        _pool = new UpstreamPool(4, DialAsync, BufferBudget.Unlimited, Idle);
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

    private bool ClosedByPool(int index, TimeSpan within)
    {
        var main = _mainSides[index];
        return Poll.Until(() => main.Poll(0, SelectMode.SelectRead) && main.Available == 0, within);
    }

    private bool StillOpen(int index)
    {
        var main = _mainSides[index];
        return !(main.Poll(0, SelectMode.SelectRead) && main.Available == 0);
    }

    [Fact]
    public async Task The_sweeper_closes_an_idle_connection_past_the_timeout_and_keeps_a_younger_one()
    {
        var clock = Stopwatch.StartNew();
        var old = await OpenAsync();
        _pool.Return(old, close: false);
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        var young = await OpenAsync();
        _pool.Return(young, close: false);

        Assert.True(ClosedByPool(0, TimeSpan.FromSeconds(6)), "the old one was never closed");
        var closedAt = clock.Elapsed;
        Assert.True(StillOpen(1) || clock.Elapsed > TimeSpan.FromSeconds(3.2), $"the young one was closed at {clock.Elapsed}");
        Assert.True(closedAt >= Idle, $"closed after {closedAt}");

        var taken = _pool.TakeIdle();
        Assert.True(taken == young || clock.Elapsed > TimeSpan.FromSeconds(3.2));
    }

    [Fact]
    public async Task An_expired_connection_the_sweeper_has_not_reached_is_closed_instead_of_handed_out()
    {
        var clock = Stopwatch.StartNew();
        var old = await OpenAsync();
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        var young = await OpenAsync();
        _pool.Return(young, close: false); // at the bottom: the sweeper stops at it
        _pool.Return(old, close: false);   // on top, and the older
        Assert.True(Poll.Until(() => clock.Elapsed > Idle + TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5)));

        var taken = _pool.TakeIdle();

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3.2), $"too late to tell: {clock.Elapsed}");
        Assert.Same(young, taken);
        Assert.True(ClosedByPool(0, TimeSpan.FromSeconds(5)));
        Assert.Null(_pool.TakeIdle());
    }

    [Fact]
    public async Task Connections_within_the_timeout_are_kept()
    {
        var first = await OpenAsync();
        var second = await OpenAsync();
        _pool.Return(first, close: false);
        _pool.Return(second, close: false);
        await Task.Delay(TimeSpan.FromSeconds(1)); // several sweeps, none past the timeout

        Assert.True(StillOpen(0) && StillOpen(1));
        Assert.Same(second, _pool.TakeIdle());
        Assert.Same(first, _pool.TakeIdle());
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
