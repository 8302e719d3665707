using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;

namespace AotKvs.Tests.Support;

/// <summary>
/// How a <see cref="MisbehavingMain"/> departs from a well-behaved HTTP/1.1 main (issue 23).
/// The numbers are the cases.
/// </summary>
public enum Misbehaviour
{
    /// <summary>No flaw: the control that shows the scripted main itself is not what gets caught.</summary>
    None,

    /// <summary>1a. 50 ms after every answer, one more whole answer (200 "found" with some other key's value) on the same connection.</summary>
    ExtraAnswerLater,

    /// <summary>1b. A HEAD is answered as a GET (Python's http.server with do_HEAD = do_GET): the head, then a moment later the body in a second write.</summary>
    HeadBodyLater,

    /// <summary>1c. A DELETE that deleted is answered 204 with Content-Length: N, and the N body bytes come a moment later.</summary>
    NoContentBodyLater,

    /// <summary>3a. Several requests already buffered on one connection are answered last first.</summary>
    ReversesBatch,

    /// <summary>3b. The first request on each connection is answered twice.</summary>
    AnswersFirstTwice,

    /// <summary>4a. Every answer says Connection: close and the connection is closed after it; requests that followed are not read.</summary>
    ClosesAfterEach,

    /// <summary>4b. Every answer is HTTP/1.0 without keep-alive (no Connection header), and the connection is closed after it.</summary>
    Http10,

    /// <summary>4c. The first request is answered with Connection: close, but the requests that followed it on the connection are acted on (stored) before the close.</summary>
    ClosesButActsOnRest,

    /// <summary>5a. A GET that found its key is answered 205 Reset Content, with the found body.</summary>
    ResetContentWithBody,

    /// <summary>5b. Every answer's Content-Type has a Latin-1 byte (0xE9, legal obs-text).</summary>
    Latin1ContentType,

    /// <summary>5c. Every answer carries an Allow header with a Latin-1 byte (0xE9, legal obs-text).</summary>
    Latin1Allow,

    /// <summary>
    /// Not in the issue: a stand-in that lies outright, for the negative control. Every fifth
    /// GET that found its key answers another key's value instead, and every fifth PUT of a
    /// new key says "replaced".
    /// </summary>
    Lies,
}

/// <summary>
/// A scripted main on a loopback port for issue 23: a raw-socket HTTP/1.1 server that frames
/// requests with the stand-ins' shared <see cref="RequestReader"/> (request line, headers,
/// Content-Length or chunked body), serves several
/// requests per connection (keep-alive and pipelined), keeps a real dictionary so that
/// GET/HEAD/PUT/DELETE on /kvs/&lt;key&gt; get the contract's exact answers, and has one
/// <see cref="Misbehaviour"/>. It behaves the same whatever the request headers say: it
/// ignores Connection: close and any header it does not need (only Content-Length and
/// Transfer-Encoding frame the body), so a forwarder cannot talk it out of its flaw. It
/// records every PUT it stored, so a test can ask whether main acted on a request.
/// </summary>
public sealed class MisbehavingMain : LoopbackServer
{
    /// <summary>How long after an answer the flaw's extra bytes come (1a).</summary>
    public static readonly TimeSpan ExtraAnswerDelay = TimeSpan.FromMilliseconds(50);

    /// <summary>How long a late body waits behind its head (1b, 1c): "a moment later".</summary>
    public static readonly TimeSpan LateBodyDelay = TimeSpan.FromMilliseconds(5);

    private static readonly Encoding Latin1 = Encoding.Latin1;

    private readonly Misbehaviour _flaw;
    private readonly Dictionary<string, string> _store = [];
    private readonly ConcurrentDictionary<(string Key, string Value), byte> _stored = new();
    // The values last stored, newest last: where a flaw takes "some other client's value" from.
    private readonly Queue<(string Key, string Value)> _recent = new();
    private long _requests;
    private long _connections;
    private long _lies;

    public MisbehavingMain(Misbehaviour flaw)
    {
        _flaw = flaw;
        Start();
    }

    public Misbehaviour Flaw => _flaw;

    /// <summary>Requests read whole (the forwarder's /readyz probes included).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    public long Connections => Interlocked.Read(ref _connections);

    /// <summary>Did main ever store this value (its exact JSON text) under this key?</summary>
    public bool HasStored(string key, string valueJson) => _stored.ContainsKey((key, valueJson));

    /// <summary>PUTs main stored, all keys together.</summary>
    public int StoredPuts => _stored.Count;

    protected override void Accepted() => Interlocked.Increment(ref _connections);

    protected override async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var socket = client.Client;
        socket.NoDelay = true;
        var connection = new Connection(socket);
        var reader = new RequestReader();
        var receive = new byte[64 * 1024];
        var first = true;
        try
        {
            while (!Stopping.IsCancellationRequested)
            {
                // Whatever has arrived is read before answering, so that a pipelined batch is
                // seen as one (the reverse-order flaw answers what is buffered together).
                var batch = new List<MainRequest>();
                while (true)
                {
                    while (reader.TryTake(out var request))
                        batch.Add(request!);
                    if (batch.Count > 0 && socket.Available == 0)
                        break;
                    var n = await socket.ReceiveAsync(receive, SocketFlags.None, Stopping);
                    if (n == 0)
                    {
                        if (batch.Count == 0)
                            return;
                        break;
                    }
                    reader.Append(receive.AsSpan(0, n));
                }
                Interlocked.Add(ref _requests, batch.Count);
                if (!await ServeBatchAsync(connection, batch, first))
                {
                    await LingeringCloseAsync(socket, receive);
                    return;
                }
                first = false;
            }
        }
        catch (MalformedRequestException)
        {
            await TryWriteAsync(connection, Latin1.GetBytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException) { }
        finally
        {
            connection.Closed = true;
        }
    }

    /// <summary>
    /// Closes as a careful server does: the sending side first, then what still comes is read
    /// and dropped (for a bounded time), so the close never turns into a reset that could
    /// destroy the answer just sent before the peer has read it.
    /// </summary>
    private async Task LingeringCloseAsync(Socket socket, byte[] receive)
    {
        socket.Shutdown(SocketShutdown.Send);
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(Stopping);
        linger.CancelAfter(TimeSpan.FromSeconds(2));
        while (await socket.ReceiveAsync(receive, SocketFlags.None, linger.Token) > 0) { }
    }

    /// <summary>Acts on and answers one batch; false when the connection is to be closed after it.</summary>
    private async Task<bool> ServeBatchAsync(Connection connection, List<MainRequest> batch, bool firstOnConnection)
    {
        switch (_flaw)
        {
            case Misbehaviour.ClosesAfterEach:
            case Misbehaviour.Http10:
                // One answer, then the close: what followed it is never read.
                await connection.WriteAsync(Format(batch[0], Act(batch[0])));
                return false;
            case Misbehaviour.ClosesButActsOnRest:
                await connection.WriteAsync(Format(batch[0], Act(batch[0])));
                foreach (var request in batch.Skip(1))
                    Act(request); // stored, never answered
                return false;
            case Misbehaviour.ReversesBatch:
                // Acted on in the order received, answered last first.
                var answers = batch.Select(r => Format(r, Act(r))).ToList();
                answers.Reverse();
                foreach (var answer in answers)
                    await connection.WriteAsync(answer);
                return true;
        }

        foreach (var request in batch)
        {
            var answer = Act(request);
            switch (_flaw)
            {
                case Misbehaviour.HeadBodyLater when request.Method == "HEAD":
                case Misbehaviour.NoContentBodyLater when request.Method == "DELETE" && answer.Status == 200:
                    var (head, body) = FormatWithLateBody(request, answer);
                    await connection.WriteAsync(head);
                    await Task.Delay(LateBodyDelay, Stopping);
                    await connection.WriteAsync(body);
                    break;
                default:
                    var bytes = Format(request, answer);
                    await connection.WriteAsync(bytes);
                    if (_flaw == Misbehaviour.AnswersFirstTwice && firstOnConnection && request == batch[0])
                        await connection.WriteAsync(bytes); // a second write of the same answer
                    break;
            }
            if (_flaw == Misbehaviour.ExtraAnswerLater)
                _ = WriteExtraAnswerLaterAsync(connection, KeyOf(request.Target));
        }
        return true;
    }

    private async Task WriteExtraAnswerLaterAsync(Connection connection, string? key)
    {
        try
        {
            await Task.Delay(ExtraAnswerDelay, Stopping);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        var json = Encoding.UTF8.GetBytes($$"""{"result": "found", "value": {{OtherValue(key) ?? "\"intruder\""}}}""");
        var head = Latin1.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {json.Length}\r\n\r\n");
        await TryWriteAsync(connection, [.. head, .. json]);
    }

    private static async Task TryWriteAsync(Connection connection, byte[] bytes)
    {
        try
        {
            if (!connection.Closed)
                await connection.WriteAsync(bytes);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException) { }
    }

    /// <summary>The key of a /kvs/ target (the raw text after /kvs/, up to any query), else null.</summary>
    private static string? KeyOf(string target)
    {
        if (!target.StartsWith("/kvs/", StringComparison.Ordinal) || target.Length == 5)
            return null;
        var query = target.IndexOf('?');
        return query < 0 ? target[5..] : target[5..query];
    }

    private readonly record struct Answer(int Status, string? Json, string? FoundValue = null);

    /// <summary>What main does for the request: the store changes here, the answer is what the contract says.</summary>
    private Answer Act(MainRequest request)
    {
        if (request.Target == "/readyz" || request.Target == "/healthz")
            return new(200, """{"status": "ready"}""");
        if (request.Target is "/kvs" or "/kvs/" || request.Target.StartsWith("/kvs?", StringComparison.Ordinal) || request.Target.StartsWith("/kvs/?", StringComparison.Ordinal))
            return new(400, Expected.KeyMissing);
        if (KeyOf(request.Target) is not { } key)
            return new(404, Expected.NotFound);
        lock (_store)
        {
            var exists = _store.TryGetValue(key, out var value);
            switch (request.Method)
            {
                case "GET" or "HEAD" when exists:
                    if (_flaw == Misbehaviour.Lies && request.Method == "GET" && ++_lies % 5 == 0 && OtherValueLocked(key) is { } other)
                        value = other;
                    return new(200, $$"""{"result": "found", "value": {{value}}}""", value);
                case "GET" or "HEAD":
                    return new(404, Expected.KeyNotFound);
                case "PUT":
                    if (ValueOf(request.Body) is not { } written)
                        return new(400, Expected.NoValue);
                    _store[key] = written;
                    _stored.TryAdd((key, written), 0);
                    _recent.Enqueue((key, written));
                    if (_recent.Count > 64)
                        _recent.Dequeue();
                    if (_flaw == Misbehaviour.Lies && !exists && ++_lies % 5 == 0)
                        return new(200, Expected.Replaced);
                    return exists ? new(200, Expected.Replaced) : new(201, Expected.Created);
                case "DELETE":
                    if (!exists)
                        return new(404, Expected.KeyNotFound);
                    _store.Remove(key);
                    return new(200, Expected.Deleted);
                default:
                    return new(405, Expected.MethodNotAllowed);
            }
        }
    }

    /// <summary>A value stored lately under some other key (so, in the tests, most likely another client's).</summary>
    private string? OtherValue(string? key)
    {
        lock (_store) return OtherValueLocked(key);
    }

    private string? OtherValueLocked(string? key)
    {
        string? found = null;
        foreach (var (k, v) in _recent)
            if (k != key)
                found = v;
        return found;
    }

    /// <summary>The raw JSON text of the body's "value" member; null when there is none.</summary>
    private static string? ValueOf(byte[] body)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(body);
            return document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                   && document.RootElement.TryGetProperty("value", out var value)
                ? value.GetRawText()
                : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        205 => "Reset Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Whatever",
    };

    /// <summary>The whole answer's bytes, head and (unless HEAD) body, with the flaw's header changes.</summary>
    private byte[] Format(MainRequest request, Answer answer)
    {
        var status = answer.Status;
        if (_flaw == Misbehaviour.ResetContentWithBody && request.Method == "GET" && answer.FoundValue is not null)
            status = 205;
        var body = Encoding.UTF8.GetBytes(answer.Json ?? "");
        var head = Head(status, body.Length);
        return request.Method == "HEAD" ? head : [.. head, .. body];
    }

    /// <summary>The head and the body in two pieces, for the late-body flaws (1b, 1c).</summary>
    private (byte[] Head, byte[] Body) FormatWithLateBody(MainRequest request, Answer answer)
    {
        var body = Encoding.UTF8.GetBytes(answer.Json ?? "");
        var status = request.Method == "DELETE" ? 204 : answer.Status;
        return (Head(status, body.Length), body);
    }

    private byte[] Head(int status, int contentLength)
    {
        var head = new StringBuilder();
        head.Append(_flaw == Misbehaviour.Http10 ? "HTTP/1.0 " : "HTTP/1.1 ").Append(status).Append(' ').Append(Reason(status)).Append("\r\n");
        head.Append(_flaw == Misbehaviour.Latin1ContentType ? "Content-Type: application/json; charset=utf-8; note=caf\u00E9\r\n" : "Content-Type: application/json\r\n");
        if (_flaw == Misbehaviour.Latin1Allow)
            head.Append("Allow: GET, HEAD, PUT, DELETE, caf\u00E9\r\n");
        if (_flaw is Misbehaviour.ClosesAfterEach or Misbehaviour.ClosesButActsOnRest)
            head.Append("Connection: close\r\n");
        head.Append("Content-Length: ").Append(contentLength).Append("\r\n\r\n");
        return Latin1.GetBytes(head.ToString()); // é is the single byte 0xE9
    }

    /// <summary>A connection's sending side: the flaw's late writes and the answers never interleave.</summary>
    // The semaphore is never disposed: a flaw's late write may still take it after the connection closed.
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "late writes may outlive the connection")]
    private sealed class Connection(Socket socket)
    {
        private readonly SemaphoreSlim _write = new(1, 1);

        public volatile bool Closed;

        public async Task WriteAsync(byte[] bytes)
        {
            await _write.WaitAsync();
            try
            {
                for (var sent = 0; sent < bytes.Length;)
                    sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
            }
            finally
            {
                _write.Release();
            }
        }
    }
}
