using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using AotKvs.Configuration;
using AotKvs.Protocol;

namespace AotKvs.Forwarding.Client;

/// <summary>
/// Keep-alive connections to main, most recently used first. The caller holds one of the
/// forwarder's connection permits around <see cref="SendAsync"/>, so open connections never
/// exceed the bound: a new one is dialled only when every existing one is in use.
/// </summary>
internal sealed class UpstreamPool : IDisposable
{
    /// <summary>Shorter than main's keep-alive timeout, so main never closes a connection we are about to reuse.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(50);

    private readonly Func<CancellationToken, ValueTask<Socket>> _dial;
    private readonly UpstreamConnection[] _idle;
    private readonly Timer _sweeper;
    private readonly BufferBudget _budget;
    private readonly long _idleTimeout; // Stopwatch ticks
    private int _idleCount;
    private int _generation;

    /// <summary>
    /// <paramref name="dial"/> opens one connection to main; tests put a scripted main there.
    /// <paramref name="idleTimeout"/>: instead of <see cref="IdleTimeout"/> (tests shorten it).
    /// </summary>
    public UpstreamPool(int maxConnections, Func<CancellationToken, ValueTask<Socket>> dial, BufferBudget budget, TimeSpan? idleTimeout = null)
    {
        _dial = dial;
        _budget = budget;
        _idle = new UpstreamConnection[maxConnections];
        var idle = idleTimeout ?? IdleTimeout;
        _idleTimeout = (long)(idle.TotalSeconds * Stopwatch.Frequency);
        _sweeper = new Timer(static pool => ((UpstreamPool)pool!).CloseExpired(), this, idle / 5, idle / 5);
    }

    /// <summary>Opens a TCP connection to the forwarding target (its name resolved on every dial).</summary>
    public static async ValueTask<Socket> DialAsync(ForwardingTarget target, CancellationToken cancel)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(target.Host, target.Port, cancel);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends one request and reads main's whole answer. <paramref name="keepAlive"/>: main
    /// echoes tags, so a pooled connection may carry it, and the connection goes back to the
    /// pool when the answer was tied to it; otherwise a fresh connection carries this request
    /// alone. A pooled connection that fails before any answer byte arrived was most likely
    /// closed by main while idle (restarted, or its idle timeout): the request goes once more
    /// on a fresh connection, never a third time.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<UpstreamAnswer> SendAsync(UpstreamRequest request, bool keepAlive, CancellationToken cancel)
    {
        if (keepAlive && TakeIdle() is { } pooled)
        {
            try
            {
                return Keep(pooled, await pooled.ExchangeAsync(request, cancel), keepAlive);
            }
            catch (Exception e) when (pooled.FailedBeforeAnyAnswer(e, cancel))
            {
                pooled.Dispose(); // stale: try a fresh one below
            }
            catch
            {
                pooled.Dispose();
                throw;
            }
        }

        var fresh = await OpenAsync(cancel);
        try
        {
            return Keep(fresh, await fresh.ExchangeAsync(request, cancel), keepAlive);
        }
        catch
        {
            fresh.Dispose();
            throw;
        }
    }

    /// <summary>
    /// After a transport failure (main refused, vanished or dropped us) the idle connections
    /// are suspect too: close them, and let none in use now come back to the pool.
    /// </summary>
    public void DropIdle()
    {
        lock (_idle)
        {
            _generation++;
            CloseIdle(_idleCount);
        }
    }

    /// <summary>The connection goes back to the pool unless either side said it closes (a request sent with Connection: close included).</summary>
    private UpstreamAnswer Keep(UpstreamConnection connection, UpstreamAnswer answer, bool keepAlive)
    {
        Return(connection, answer.Head.Close || !keepAlive);
        return answer;
    }

    /// <summary>A connection whose last answer was read whole goes back to the pool, unless it is to be closed.</summary>
    public void Return(UpstreamConnection connection, bool close)
    {
        if (!close)
        {
            lock (_idle)
            {
                if (connection.Generation == _generation && _idleCount < _idle.Length)
                {
                    _idle[_idleCount++] = connection;
                    return;
                }
            }
        }
        connection.Dispose();
    }

    /// <summary>A new connection to main, of the pool's current generation.</summary>
    public async ValueTask<UpstreamConnection> OpenAsync(CancellationToken cancel)
    {
        var generation = Volatile.Read(ref _generation);
        return new UpstreamConnection(await _dial(cancel), generation, _budget);
    }

    /// <summary>
    /// The most recently used idle connection that is not too old and on which main wrote
    /// nothing while it was idle, if any.
    /// </summary>
    public UpstreamConnection? TakeIdle()
    {
        var expired = Stopwatch.GetTimestamp() - _idleTimeout;
        while (true)
        {
            UpstreamConnection connection;
            lock (_idle)
            {
                if (_idleCount == 0)
                    return null;
                connection = _idle[--_idleCount];
                _idle[_idleCount] = null!;
            }
            if (connection.LastUsed > expired && !connection.HasStrayBytes)
                return connection;
            connection.Dispose();
        }
    }

    /// <summary>Closes idle connections older than the idle timeout (the oldest are at the bottom).</summary>
    private void CloseExpired()
    {
        var expired = Stopwatch.GetTimestamp() - _idleTimeout;
        lock (_idle)
        {
            var old = 0;
            while (old < _idleCount && _idle[old].LastUsed <= expired)
                old++;
            CloseIdle(old);
        }
    }

    /// <summary>Closes the bottom <paramref name="count"/> idle connections; the lock is held.</summary>
    private void CloseIdle(int count)
    {
        for (var i = 0; i < count; i++)
            _idle[i].Dispose();
        Array.Copy(_idle, count, _idle, 0, _idleCount - count);
        Array.Clear(_idle, _idleCount - count, count);
        _idleCount -= count;
    }

    public void Dispose()
    {
        _sweeper.Dispose();
        lock (_idle)
            CloseIdle(_idleCount);
    }
}
