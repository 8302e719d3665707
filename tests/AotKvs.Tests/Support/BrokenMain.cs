using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace AotKvs.Tests.Support;

/// <summary>How a <see cref="BrokenMain"/> is wrong.</summary>
public enum MainFlaw
{
    /// <summary>No flaw: the control that shows the stand-in alone is not what gets caught.</summary>
    None,

    /// <summary>PUT and DELETE answer at once and change the store a little later.</summary>
    AcknowledgesBeforeApplying,

    /// <summary>GET reads a copy of the store refreshed every few tens of milliseconds.</summary>
    ServesStaleReads,

    /// <summary>Every third GET is answered 201 "created"; every third DELETE gets a garbled status line.</summary>
    AnswersOutOfPlace,
}

/// <summary>
/// A main on a loopback port that speaks the SPEC's /kvs API over HTTP/1.1 keep-alive with
/// exactly the SPEC's answers, but with one flaw, so that the workload and checker, run over
/// real sockets through a real forwarder, can be shown to catch a main that breaks
/// linearizability.
/// </summary>
public sealed class BrokenMain : LoopbackServer
{
    private static readonly TimeSpan Lag = TimeSpan.FromMilliseconds(30);
    private readonly Dictionary<string, long> _store = [];
    private Dictionary<string, long> _copy = [];
    private readonly MainFlaw _flaw;
    private int _answers;

    public BrokenMain(MainFlaw flaw)
    {
        _flaw = flaw;
        Start();
        if (flaw == MainFlaw.ServesStaleReads)
            _ = Task.Run(RefreshCopyAsync);
    }

    private async Task RefreshCopyAsync()
    {
        while (!Stopping.IsCancellationRequested)
        {
            lock (_store) _copy = new Dictionary<string, long>(_store);
            try { await Task.Delay(Lag, Stopping); }
            catch (OperationCanceledException) { return; }
        }
    }

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
                    return;
                var (status, json) = Answer(request.Method, request.Target, request.BodyText);
                var reason = status switch { 200 => "OK", 201 => "Created", _ => "Not Found" };
                var statusLine = $"HTTP/1.1 {status} {reason}";
                if (_flaw == MainFlaw.AnswersOutOfPlace && Interlocked.Increment(ref _answers) % 3 == 0)
                    (statusLine, json) = request.Method == "GET" ? ("HTTP/1.1 201 Created", Expected.Created) : ("HTTP/1.1 2OO OK", json);
                await stream.WriteAsync(Encoding.ASCII.GetBytes(
                    $"{statusLine}\r\nContent-Type: application/json\r\nContent-Length: {json.Length}\r\n\r\n{json}"), Stopping);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or MalformedRequestException) { }
    }

    private (int Status, string Json) Answer(string method, string path, string body)
    {
        const string missing = Expected.KeyNotFound;
        if (path == "/readyz")
            return (200, """{"status": "ready"}""");
        var key = path.StartsWith("/kvs/", StringComparison.Ordinal) ? path[5..] : path;
        lock (_store)
        {
            var exists = _store.TryGetValue(key, out var value);
            switch (method)
            {
                case "GET" when _flaw == MainFlaw.ServesStaleReads:
                    return _copy.TryGetValue(key, out var old) ? (200, $$"""{"result": "found", "value": {{old}}}""") : (404, missing);
                case "GET":
                    return exists ? (200, $$"""{"result": "found", "value": {{value}}}""") : (404, missing);
                case "PUT":
                    var written = JsonDocument.Parse(body).RootElement.GetProperty("value").GetInt64();
                    Apply(() => _store[key] = written);
                    return exists ? (200, Expected.Replaced) : (201, Expected.Created);
                default:
                    if (!exists) return (404, missing);
                    Apply(() => _store.Remove(key));
                    return (200, Expected.Deleted);
            }
        }
    }

    /// <summary>Changes the store now, or, for the flaw, a little after the answer has gone.</summary>
    private void Apply(Action change)
    {
        if (_flaw != MainFlaw.AcknowledgesBeforeApplying)
        {
            change();
            return;
        }
        _ = Task.Run(async () =>
        {
            await Task.Delay(Lag);
            lock (_store) change();
        });
    }

}
