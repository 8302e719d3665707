using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace AotKvs.Tests.Support;

/// <summary>
/// The promise a forwarder makes when main does not answer: the 503 comes at
/// KVS_FORWARD_TIMEOUT_MS (documented default 1000 ms). Forwarding/Forwarder.cs puts one
/// deadline over connecting, sending and reading main's whole answer, so it is neither
/// earlier than 0.9x the bound (a forwarder that gives up early fails a slow main) nor
/// later than the bound plus <see cref="Margin"/>.
/// </summary>
public static class ForwardBound
{
    /// <summary>The documented default, written here rather than read from the product, so a changed default fails.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromMilliseconds(1000);

    /// <summary>
    /// What the client side adds beyond the forwarder's deadline: our HTTP client, the
    /// forwarder writing its 503, and scheduling on a busy 2-core machine. A quarter of the
    /// default bound; tests with these bounds never run alongside the heavy ones
    /// (<see cref="TimingCollection"/>).
    /// </summary>
    public static readonly TimeSpan Margin = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// GETs on plain blocking sockets, each on a thread of its own, timed from the request
    /// sent to the answer read whole. The test process's own scheduling (its thread pool,
    /// xunit's synchronization context) stays out of the figure: an HttpClient await here
    /// was seen to add 0.4-0.9 s to a 503 the forwarder had logged at 1.00 s.
    /// </summary>
    public static (KvsAnswer Answer, TimeSpan Elapsed)[] TimedGets(int port, params string[] paths)
    {
        var results = new (KvsAnswer, TimeSpan)[paths.Length];
        var threads = paths.Select((path, i) => new Thread(() => results[i] = TimedGet(port, path))).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        return results;
    }

    public static (KvsAnswer Answer, TimeSpan Elapsed) TimedGet(int port, string path)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 30_000 };
        socket.Connect(IPAddress.Loopback, port);
        var request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        var clock = Stopwatch.StartNew();
        socket.Send(request);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        while ((n = socket.Receive(buffer)) > 0)
            received.Write(buffer, 0, n);
        var elapsed = clock.Elapsed;

        // Connection: close, so the answer is everything up to the close (Content-Length framed).
        var text = Encoding.UTF8.GetString(received.ToArray());
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = text[..split].Split("\r\n");
        var contentType = head.Skip(1).Select(h => h.Split(':', 2)).Where(h => h[0].Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            .Select(h => h[1].Trim().Split(';')[0]).FirstOrDefault();
        using var empty = new HttpResponseMessage();
        var answer = new KvsAnswer(int.Parse(head[0].Split(' ')[1]), contentType, text[(split + 4)..], empty.Headers, empty.Content.Headers);
        return (answer, elapsed);
    }

    /// <summary>The 503 came when the bound ran out: from 0.9x the bound to the bound plus the margin.</summary>
    public static void AtTheBound(TimeSpan elapsed, TimeSpan bound, string what = "") =>
        Assert.True(elapsed >= bound * 0.9 && elapsed <= bound + Margin,
            $"{what}503 after {elapsed.TotalMilliseconds:F0} ms, expected {(bound * 0.9).TotalMilliseconds:F0} to {(bound + Margin).TotalMilliseconds:F0} ms");

    /// <summary>The 503 came no later than the bound plus the margin (main refused or vanished: it may come at once).</summary>
    public static void WithinTheBound(TimeSpan elapsed, TimeSpan bound, string what = "") =>
        Assert.True(elapsed <= bound + Margin,
            $"{what}503 after {elapsed.TotalMilliseconds:F0} ms, expected at most {(bound + Margin).TotalMilliseconds:F0} ms");
}

/// <summary>
/// Tests that assert a sub-second or bound-sized time. xunit runs a collection with
/// parallelization disabled on its own, after the parallel ones, so no soak, corpus or
/// load test shares the CPUs with a timing assertion.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    public const string Name = "timing";
}
