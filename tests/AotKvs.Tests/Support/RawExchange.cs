using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace AotKvs.Tests.Support;

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

    /// <summary>The complete answers in the bytes (1xx interim answers skipped); stops at a head that is not HTTP.</summary>
    private static List<WireAnswer> Parse(byte[] data, bool bodiless)
    {
        var answers = new List<WireAnswer>();
        var at = 0;
        try
        {
            while (WireAnswer.TryParse(data.AsSpan(at), bodiless, out var consumed) is { } answer)
            {
                if (answer.Status >= 200)
                    answers.Add(answer);
                at += consumed;
            }
        }
        catch (MalformedAnswerException)
        {
            // what follows is not an answer: keep the ones before it
        }
        return answers;
    }
}
