using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AotKvs.Tests.Hostile;

/// <summary>One answer off the wire (1xx interim answers are skipped).</summary>
public sealed record WireAnswer(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string? ContentType => Headers.TryGetValue("Content-Type", out var v) ? v : null;
    public string Text => Encoding.UTF8.GetString(Body);
}

/// <summary>What came back for a request: the answers, whether the server closed, whether we gave up waiting.</summary>
public sealed record WireOutcome(IReadOnlyList<WireAnswer> Answers, bool Closed, bool TimedOut, TimeSpan Elapsed);

/// <summary>
/// Writes raw bytes to a server (optionally in pieces, with pauses) while reading what comes
/// back, bounded in time. Write errors are expected (a server may refuse mid-request) and
/// ignored; only what the server answered matters. A client that has sent everything and
/// heard nothing for <c>patience</c> closes its sending side, as a client that gives up
/// does (Kestrel takes a half-close as the client leaving, so it is never done sooner).
/// </summary>
public static class RawExchange
{
    public static async Task<WireOutcome> SendAsync(int port, IReadOnlyList<byte[]> pieces, int answers, TimeSpan bound,
        TimeSpan pause = default, TimeSpan? patience = null, bool bodiless = false)
    {
        var clock = Stopwatch.StartNew();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(bound);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);

        var writer = Task.Run(async () =>
        {
            try
            {
                for (var i = 0; i < pieces.Count; i++)
                {
                    if (i > 0 && pause > TimeSpan.Zero)
                        await Task.Delay(pause, timeout.Token);
                    await socket.SendAsync(pieces[i], SocketFlags.None, timeout.Token);
                }
                await Task.Delay(patience ?? TimeSpan.FromSeconds(1), timeout.Token);
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
        });

        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        var parsed = new List<WireAnswer>();
        bool closed = false, timedOut = false;
        try
        {
            while (parsed.Count < answers)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (n == 0) { closed = true; break; }
                received.Write(buffer, 0, n);
                parsed = Parse(received.ToArray(), bodiless);
            }
        }
        catch (OperationCanceledException) { timedOut = true; }
        catch (SocketException) { closed = true; } // reset: the server refused the rest
        parsed = Parse(received.ToArray(), bodiless);
        timeout.Cancel();
        await writer;
        socket.Dispose();
        return new WireOutcome(parsed, closed, timedOut, clock.Elapsed);
    }

    /// <summary>The complete answers in the bytes, framed by Content-Length (none for HEAD).</summary>
    private static List<WireAnswer> Parse(byte[] data, bool bodiless)
    {
        var answers = new List<WireAnswer>();
        var at = 0;
        while (true)
        {
            var end = IndexOf(data, at, "\r\n\r\n"u8);
            if (end < 0) return answers;
            var lines = Encoding.Latin1.GetString(data, at, end - at).Split("\r\n");
            var parts = lines[0].Split(' ');
            if (parts.Length < 2 || !int.TryParse(parts[1], out var status)) return answers;
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(':');
                if (colon > 0) headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
            var length = !bodiless && headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl) : 0;
            var bodyStart = end + 4;
            if (data.Length - bodyStart < length) return answers;
            if (status >= 200)
                answers.Add(new WireAnswer(status, headers, data[bodyStart..(bodyStart + length)]));
            at = bodyStart + length;
        }
    }

    private static int IndexOf(byte[] data, int from, ReadOnlySpan<byte> what)
    {
        var i = data.AsSpan(from).IndexOf(what);
        return i < 0 ? -1 : from + i;
    }
}
