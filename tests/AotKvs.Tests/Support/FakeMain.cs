using System.Collections.Concurrent;
using System.Net.Sockets;

namespace AotKvs.Tests.Support;

/// <summary>
/// A stand-in for main on a loopback port that records every forwarded request head it receives and
/// answers after <see cref="Delay"/> (or never, when null). It also counts the connections
/// still open to it, to show a forwarder lets go of the ones it gave up on. Requests are framed by
/// the stand-ins' shared <see cref="RequestReader"/>.
/// </summary>
public sealed class FakeMain : LoopbackServer
{
    private int _open;

    public FakeMain(TimeSpan? delay)
    {
        Delay = delay;
        Start();
    }

    public TimeSpan? Delay { get; set; }
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Each request as received: request line and headers.</summary>
    public ConcurrentQueue<string> Heads { get; } = new();

    protected override void Accepted() => Interlocked.Increment(ref _open);

    protected override async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            var reader = new RequestReader();
            while (!Stopping.IsCancellationRequested)
            {
                if (await reader.ReadAsync(stream, Stopping) is not { } request)
                    return; // the forwarder closed its side
                // The forwarder's own readiness probe is not forwarded traffic.
                if (request.Target != "/readyz" || request.Method != "GET")
                    Heads.Enqueue(request.Head);

                if (Delay is not { } delay)
                {
                    // Silent: keep reading, so a close from the forwarder is seen at once.
                    var drain = new byte[16 * 1024];
                    while (await stream.ReadAsync(drain, Stopping) > 0) { }
                    return;
                }
                await Task.Delay(delay, Stopping);
                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{\"result\":\"deleted\"}\n"u8.ToArray(), Stopping);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or MalformedRequestException) { }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

}
