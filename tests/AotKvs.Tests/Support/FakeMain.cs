using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;

namespace AotKvs.Tests.Support;

/// <summary>
/// A stand-in for main on a loopback port that records every forwarded request head it receives and
/// answers after <see cref="Delay"/> (or never, when null). It also counts the connections
/// still open to it, to show a forwarder lets go of the ones it gave up on.
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
            var buffer = new byte[256 * 1024];
            var filled = 0;
            while (!Stopping.IsCancellationRequested)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(filled), Stopping);
                if (n == 0) return; // the forwarder closed its side
                filled += n;
                var text = Encoding.Latin1.GetString(buffer, 0, filled);
                var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (end < 0) continue;
                var head = text[..end];
                var length = head.Split("\r\n").Where(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                    .Select(l => int.Parse(l[15..].Trim())).FirstOrDefault();
                if (filled < end + 4 + length) continue;
                // The forwarder's own readiness probe is not forwarded traffic.
                if (!head.StartsWith("GET /readyz ", StringComparison.Ordinal))
                    Heads.Enqueue(head);
                filled = 0;

                if (Delay is not { } delay)
                {
                    // Silent: keep reading, so a close from the forwarder is seen at once.
                    while (await stream.ReadAsync(buffer, Stopping) > 0) { }
                    return;
                }
                await Task.Delay(delay, Stopping);
                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{\"result\":\"deleted\"}\n"u8.ToArray(), Stopping);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException) { }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

}
