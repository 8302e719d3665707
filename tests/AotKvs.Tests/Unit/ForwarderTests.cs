using System.Net.Sockets;
using System.Net;
using System.Text.Json.Nodes;
using System.Text;
using AotKvs.Configuration;
using AotKvs.Forwarding.Pipelining;
using AotKvs.Forwarding;
using AotKvs.Operations;
using AotKvs.Protocol;
using AotKvs.Tests.Support;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The forwarder in process, with a scripted main behind it on a loopback socket: what it
/// sends, what it relays, how each failure becomes the SPEC's 503, which connections it
/// keeps, retries and drops. The process tests prove the timing against real processes.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class ForwarderTests : IDisposable
{
    private const string Found = """{"result":"found","value":1}""";
    private const string Deleted = """{"result":"deleted"}""";

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly Readiness _readiness = new(null, NullLogger<Readiness>.Instance);
    private readonly MetricsCollector _collector = new();
    private readonly ScriptedMain _main;
    private Func<SentRequest, CancellationToken, Task<Reply>> _script = (_, _) => Task.FromResult(Answer(200, Found));
    private SocketError? _dialFailure;
    private Task _dialGate = Task.CompletedTask;
    private int _dials;

    public ForwarderTests() => _main = new ScriptedMain((request, cancel) => _script(request, cancel));

    /// <summary>A forwarder to the scripted main; <paramref name="proven"/>: its first request (<see cref="ProveMain"/>) is answered before the test starts.</summary>
    private Forwarder NewForwarder(TimeSpan? timeout = null, int upstreamConnections = 256, int pipeline = 64, UpstreamPipeline.Timing? pipelineTiming = null,
        BufferBudget? budget = null, bool proven = true, int? maxWaitSeconds = null)
    {
        var options = ServiceOptions.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FORWARDING_ADDRESS"] = "10.10.0.2:8090",
            ["KVS_FORWARD_TIMEOUT_MS"] = ((int)(timeout ?? TimeSpan.FromSeconds(1)).TotalMilliseconds).ToString(),
            ["KVS_UPSTREAM_CONNECTIONS"] = upstreamConnections.ToString(),
            ["KVS_UPSTREAM_PIPELINE"] = pipeline.ToString(),
            ["KVS_MAX_WAIT_SECONDS"] = maxWaitSeconds?.ToString(),
        }).Build());
        var metrics = new ForwardingMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), _collector);
        var forwarder = new Forwarder(options.Forwarding!, options.ForwardTimeout, options.UpstreamConnections, options.UpstreamPipeline, new UpstreamReport(_readiness, metrics), DialAsync, budget, pipelineTiming,
            options.MaxWaitSeconds);
        if (proven)
            ProveMain(forwarder);
        return forwarder;
    }

    /// <summary>
    /// A forwarder's first request to a main goes alone with Connection: close; once main has
    /// echoed its tag, main is known to be an AotKvs main (keep-alive, pipelining). Main
    /// answers this one itself (it is not in <see cref="ScriptedMain.Seen"/>), and its
    /// connection is not counted among the dials. The proof is set-up, not the behaviour
    /// under test: on a loaded machine a short forward timeout can end it with a 503, so it
    /// is tried at most three times.
    /// </summary>
    private void ProveMain(Forwarder forwarder)
    {
        var attempts = 0;
        int status;
        do
        {
            attempts++;
            var context = Request("GET", ScriptedMain.ProofPath);
            forwarder.ForwardAsync(context).GetAwaiter().GetResult();
            status = context.Response.StatusCode;
        }
        while (status == 503 && attempts < 3);
        Assert.Equal(200, status);
        Assert.True(Poll.Until(() => _main.Closed == attempts, TimeSpan.FromSeconds(5)), "the first connection was kept");
        _main.ResetClosed();
        _dials = 0;
    }

    /// <summary>Every connection the forwarder opens goes to the scripted main, or fails as told.</summary>
    private async ValueTask<Socket> DialAsync(CancellationToken cancel)
    {
        Interlocked.Increment(ref _dials);
        await _dialGate;
        if (_dialFailure is { } failure)
            throw new SocketException((int)failure);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, _main.Port, cancel);
        return socket;
    }

    [Fact]
    public async Task Sends_method_raw_target_body_and_content_type_and_adds_its_via_entry()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(Answer(201, """{"result":"created"}"""));
        var context = Request("PUT", "/kvs/a%2Fb/../c?x=%20", """{"value": [1]}""", "text/plain", via: "1.1 edge");

        await forwarder.ForwardAsync(context);

        var sent = Assert.Single(_main.Seen);
        Assert.Equal("PUT /kvs/a%2Fb/../c?x=%20 HTTP/1.1", sent.RequestLine);
        Assert.Equal("10.10.0.2:8090", sent.Header("Host"));
        Assert.Equal("""{"value": [1]}""", sent.Body);
        Assert.Equal("text/plain", sent.Header("Content-Type"));
        Assert.Equal("14", sent.Header("Content-Length"));
        Assert.Matches("^1.1 edge, 1.1 aotkvs-[0-9a-f]{12}$", sent.Header("Via"));
        AssertAnswer(context, 201, Expected.Created);
    }

    [Fact]
    public async Task A_request_without_a_body_is_sent_without_one()
    {
        using var forwarder = NewForwarder();
        var context = Request("GET", "/kvs/a");

        await forwarder.ForwardAsync(context);

        var sent = Assert.Single(_main.Seen);
        Assert.Equal("GET /kvs/a HTTP/1.1", sent.RequestLine);
        Assert.Null(sent.Header("Content-Length"));
        Assert.Null(sent.Header("Content-Type"));
        Assert.Matches("^1.1 aotkvs-[0-9a-f]{12}$", sent.Header("Via"));
        AssertAnswer(context, 200, Found);
    }

    [Fact]
    public async Task Relays_status_content_type_allow_and_body()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(Answer(405, """{"error":"Method not allowed"}""", "Allow: GET, HEAD, PUT, DELETE\r\n"));
        var context = Request("POST", "/kvs/a", "{}", "application/json");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 405, Expected.MethodNotAllowed);
        Assert.Equal("GET, HEAD, PUT, DELETE", context.Response.Headers.Allow.ToString());
    }

    [Fact]
    public async Task HEAD_keeps_mains_content_length_and_sends_no_body()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(new Reply("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n"));
        var context = Request("HEAD", "/kvs/a");

        await forwarder.ForwardAsync(context);
        var next = Request("GET", "/kvs/a"); // the connection is still in step: no body was left unread
        _script = (_, _) => Task.FromResult(Answer(200, Found));
        await forwarder.ForwardAsync(next);

        Assert.Equal("HEAD /kvs/a HTTP/1.1", _main.Seen.First().RequestLine);
        Assert.Equal(200, context.Response.StatusCode);
        Assert.Equal(28, context.Response.ContentLength);
        Assert.Equal(0, context.Response.Body.Length);
        AssertAnswer(next, 200, Found);
        Assert.Equal(1, _dials);
    }

    [Fact]
    public async Task A_method_is_sent_on_exactly_as_received_and_mains_refusal_relayed()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(Answer(405, """{"error":"Method not allowed"}""", "Allow: GET, HEAD, PUT, DELETE\r\n"));
        var context = Request("get", "/kvs/a");

        await forwarder.ForwardAsync(context);

        Assert.Equal("get /kvs/a HTTP/1.1", Assert.Single(_main.Seen).RequestLine);
        AssertAnswer(context, 405, Expected.MethodNotAllowed);
    }

    public static TheoryData<string> Failures() =>
    [
        "refused", "unreachable", "dropped before the answer", "answer cut short", "chunked answer cut short", "silent",
        "garbled status line", "head too large", "conflicting lengths", "unknown transfer coding", "switching protocols",
    ];

    [Theory, MemberData(nameof(Failures))]
    public async Task Every_failure_to_get_a_whole_answer_is_503_and_marks_main_not_ready(string failure)
    {
        using var forwarder = NewForwarder(TimeSpan.FromMilliseconds(200));
        _dialFailure = failure switch
        {
            "refused" => SocketError.ConnectionRefused,
            "unreachable" => SocketError.HostUnreachable,
            _ => null,
        };
        _script = failure switch
        {
            "dropped before the answer" => (_, _) => Task.FromResult(new Reply(null, Close: true)),
            "answer cut short" => (_, _) => Task.FromResult(new Reply("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"result\":", Close: true)),
            "chunked answer cut short" => (_, _) => Task.FromResult(new Reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"res\r\n", Close: true)),
            "garbled status line" => (_, _) => Task.FromResult(new Reply("HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n")),
            "head too large" => (_, _) => Task.FromResult(new Reply("HTTP/1.1 200 OK\r\nX-Big: " + new string('x', 70_000) + "\r\nContent-Length: 0\r\n\r\n")),
            "conflicting lengths" => (_, _) => Task.FromResult(new Reply("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}")),
            "unknown transfer coding" => (_, _) => Task.FromResult(new Reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")),
            "switching protocols" => (_, _) => Task.FromResult(new Reply("HTTP/1.1 101 Switching Protocols\r\n\r\n")),
            "silent" => async (_, cancel) => { await Task.Delay(Timeout.Infinite, cancel); throw new InvalidOperationException(); },
            _ => _script,
        };
        var context = Request("GET", "/kvs/a");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 503, Expected.CannotForward);
        Assert.False(_readiness.IsReady);
    }

    [Fact]
    public async Task After_a_failure_the_idle_connections_are_dropped_and_the_next_request_opens_a_fresh_one()
    {
        using var forwarder = NewForwarder();
        var bothArrived = new CountdownEvent(2);
        _script = async (_, _) =>
        {
            bothArrived.Signal();
            await Task.Run(() => bothArrived.Wait(TimeSpan.FromSeconds(5)));
            return Answer(200, Deleted);
        };
        await Task.WhenAll(forwarder.ForwardAsync(Request("DELETE", "/kvs/a")), forwarder.ForwardAsync(Request("DELETE", "/kvs/b")));
        Assert.Equal(2, _dials); // two idle connections now

        _script = (_, _) => Task.FromResult(new Reply("HTTP/1.1 2OO OK\r\n\r\n"));
        var failed = Request("DELETE", "/kvs/a");
        await forwarder.ForwardAsync(failed); // on one of them; the other is dropped with it
        _script = (_, _) => Task.FromResult(Answer(200, Deleted));
        var context = Request("DELETE", "/kvs/a");
        await forwarder.ForwardAsync(context);

        AssertAnswer(failed, 503, Expected.CannotForward);
        Assert.Equal(3, _dials);
        AssertAnswer(context, 200, Expected.Deleted);
        Assert.True(_readiness.IsReady);
    }

    [Fact]
    public async Task A_pooled_connection_main_closed_while_idle_is_retried_once_on_a_fresh_one()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(Answer(200, Deleted) with { Close = true }); // closes without saying so
        await forwarder.ForwardAsync(Request("DELETE", "/kvs/a"));
        Assert.True(Poll.Until(() => _main.Closed == 1, TimeSpan.FromSeconds(5)));

        _script = (_, _) => Task.FromResult(Answer(200, Deleted));
        var context = Request("DELETE", "/kvs/a");
        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 200, Expected.Deleted);
        Assert.Equal(2, _dials);
        Assert.True(_readiness.IsReady);
        // The retry is not an error: the dropped-connection counter is exactly 0 (it is exposed from the start).
        var dropped = System.Text.RegularExpressions.Regex.Matches(_collector.Scrape(), @"^kvs_forward_errors_total\{cause=""dropped""\} (\S+)$",
            System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.NotEmpty(dropped);
        Assert.All(dropped, sample => Assert.Equal("0", sample.Groups[1].Value));
    }

    [Fact]
    public async Task A_fresh_connection_that_drops_before_the_answer_is_not_retried()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(new Reply(null, Close: true));
        var context = Request("PUT", "/kvs/a", """{"value":1}""", "application/json");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 503, Expected.CannotForward);
        Assert.Equal(1, _dials);
        Assert.Single(_main.Seen);
    }

    [Fact]
    public async Task Connection_close_from_main_is_honoured()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(Answer(200, Deleted, "Connection: close\r\n")); // main keeps its side open
        await forwarder.ForwardAsync(Request("DELETE", "/kvs/a"));
        Assert.True(Poll.Until(() => _main.Closed == 1, TimeSpan.FromSeconds(5)), "the forwarder kept a connection main asked to close");

        await forwarder.ForwardAsync(Request("DELETE", "/kvs/a"));
        Assert.Equal(2, _dials);
    }

    [Fact]
    public async Task A_chunked_answer_is_relayed_whole_with_its_length()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(new Reply(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
            "a;note=x\r\n{\"result\":\r\n12\r\n\"found\",\"value\":1}\r\n0\r\nX-Trailer: t\r\n\r\n"));
        var context = Request("GET", "/kvs/a");

        await forwarder.ForwardAsync(context);
        var next = Request("GET", "/kvs/a");
        _script = (_, _) => Task.FromResult(Answer(200, Found));
        await forwarder.ForwardAsync(next);

        AssertAnswer(context, 200, Found);
        AssertAnswer(next, 200, Found);
        Assert.Equal(1, _dials); // the chunked answer was framed exactly: the connection stayed usable
    }

    [Fact]
    public async Task Interim_1xx_answers_are_skipped()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(new Reply("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + Answer(200, Found).Text));
        var context = Request("GET", "/kvs/a");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 200, Found);
    }

    [Fact]
    public async Task Bytes_beyond_the_answer_retire_the_connection()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(new Reply(Answer(200, Found).Text + "HTTP/1.1 200 OK\r\n"));
        var context = Request("GET", "/kvs/a");

        await forwarder.ForwardAsync(context);
        _script = (_, _) => Task.FromResult(Answer(200, Found));
        var next = Request("GET", "/kvs/a");
        await forwarder.ForwardAsync(next);

        AssertAnswer(context, 200, Found);
        AssertAnswer(next, 200, Found);
        Assert.Equal(2, _dials);
    }

    [Fact]
    public async Task A_timeout_while_main_answers_others_keeps_the_pool_and_readiness()
    {
        using var forwarder = NewForwarder(TimeSpan.FromMilliseconds(300));
        _script = async (request, cancel) =>
        {
            if (request.RequestLine.StartsWith("DELETE /kvs/slow ", StringComparison.Ordinal))
                await Task.Delay(Timeout.Infinite, cancel);
            return Answer(200, Deleted);
        };
        var slow = Request("DELETE", "/kvs/slow");
        var slowDone = forwarder.ForwardAsync(slow);
        await forwarder.ForwardAsync(Request("DELETE", "/kvs/quick")); // main answers meanwhile

        await slowDone;
        await forwarder.ForwardAsync(Request("DELETE", "/kvs/quick"));

        AssertAnswer(slow, 503, Expected.CannotForward);
        Assert.Equal(2, _dials); // an overloaded main is not a vanished one: the quick connection is kept and reused
        Assert.True(_readiness.IsReady);
        Assert.Contains("kvs_forward_errors_total{cause=\"timeout\"} 1", _collector.Scrape());
    }

    [Theory]
    [InlineData(1)]  // one request per connection
    [InlineData(64)] // pipelined: the lanes take the same permits
    public async Task Requests_beyond_the_connection_bound_wait_for_a_connection(int pipeline)
    {
        using var forwarder = NewForwarder(TimeSpan.FromSeconds(5), upstreamConnections: 2, pipeline: pipeline);
        var inFlight = 0;
        var most = 0;
        _script = async (_, _) =>
        {
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref most, now);
            await Task.Delay(20, CancellationToken.None);
            Interlocked.Decrement(ref inFlight);
            return Answer(200, Deleted);
        };
        var contexts = Enumerable.Range(0, 10).Select(_ => Request("DELETE", "/kvs/a")).ToList();

        await Task.WhenAll(contexts.Select(forwarder.ForwardAsync));

        Assert.Equal(2, most);
        Assert.Equal(2, _dials);
        Assert.All(contexts, context => AssertAnswer(context, 200, Expected.Deleted));
    }

    [Fact]
    public async Task A_request_that_finds_no_free_connection_within_the_bound_is_503_counted_as_busy()
    {
        using var forwarder = NewForwarder(TimeSpan.FromMilliseconds(300), upstreamConnections: 1);
        var release = new TaskCompletionSource();
        _dialGate = release.Task; // deaf to the deadline: the holder keeps its connection permit until released
        var holding = forwarder.ForwardAsync(Request("DELETE", "/kvs/a"));
        Assert.True(Poll.Until(() => Volatile.Read(ref _dials) == 1, TimeSpan.FromSeconds(5)));
        var waiter = Request("DELETE", "/kvs/b");

        await forwarder.ForwardAsync(waiter); // waits out its whole bound for the one connection

        AssertAnswer(waiter, 503, Expected.CannotForward);
        Assert.Equal(1, Volatile.Read(ref _dials)); // the waiter never dialled main
        Assert.Contains("kvs_forward_errors_total{cause=\"upstream_busy\"} 1", _collector.Scrape());
        release.SetResult();
        await holding;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        for (var seen = Volatile.Read(ref target); value > seen; seen = Volatile.Read(ref target))
            if (Interlocked.CompareExchange(ref target, value, seen) == seen)
                return;
    }

    [Fact]
    public async Task A_request_that_already_passed_this_forwarder_is_a_loop()
    {
        using var forwarder = NewForwarder();
        await forwarder.ForwardAsync(Request("GET", "/kvs/a"));
        var ownVia = Assert.Single(_main.Seen).Header("Via");

        var context = Request("GET", "/kvs/a", via: "1.1 other, " + ownVia);
        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 508, Expected.LoopDetected);
        Assert.Single(_main.Seen); // never sent on
    }

    [Fact]
    public async Task A_via_the_next_hop_would_refuse_is_a_json_431()
    {
        using var forwarder = NewForwarder();
        var context = Request("GET", "/kvs/a", via: "1.1 far (" + new string('v', 32_300) + ")");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 431, Expected.HeadersTooLarge);
        Assert.Empty(_main.Seen);
    }

    [Fact]
    public async Task A_target_that_is_not_a_path_is_refused()
    {
        using var forwarder = NewForwarder();
        var context = Request("OPTIONS", "*");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 400, Expected.BadTarget);
        Assert.Empty(_main.Seen);
    }

    private static DefaultHttpContext Request(string method, string rawTarget, string? body = null, string? contentType = null, string? via = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget = rawTarget;
        context.Features.Set<IHttpRequestBodyDetectionFeature>(new BodyDetection(body is not null));
        if (body is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(body);
            context.Request.Body = new MemoryStream(bytes);
            context.Request.ContentLength = bytes.Length;
        }
        if (contentType is not null)
            context.Request.ContentType = contentType;
        if (via is not null)
            context.Request.Headers.Via = via;
        context.Response.Body = new MemoryStream();
        return context;
    }

    private static void AssertAnswer(HttpContext context, int status, string json)
    {
        var body = Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
        Assert.True(context.Response.StatusCode == status, $"expected {status}, got {context.Response.StatusCode} {body}");
        Assert.Equal("application/json", context.Response.ContentType);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(json), JsonNode.Parse(body)), $"expected {json}, got {body}");
        Assert.Equal(Encoding.UTF8.GetByteCount(body), context.Response.ContentLength);
    }

    /// <summary>A whole JSON answer as main writes it.</summary>
    private static Reply Answer(int status, string json, string extraHeaders = "") =>
        new($"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extraHeaders}Content-Length: {Encoding.UTF8.GetByteCount(json)}\r\n\r\n{json}");

    public void Dispose()
    {
        _main.Dispose();
        _collector.Dispose();
        _services.Dispose();
    }

    private sealed class BodyDetection(bool canHaveBody) : IHttpRequestBodyDetectionFeature
    {
        public bool CanHaveBody => canHaveBody;
    }

    /// <summary>What main sends back (null: nothing), and whether it then closes the connection.</summary>
    /// <summary>What main writes: <paramref name="Text"/>, then <paramref name="Stray"/> a moment later, unasked (tagged like the answer before it).</summary>
    private sealed record Reply(string? Text, bool Close = false, string? Stray = null);

    /// <summary>
    /// One request as main received it. <paramref name="Buffered"/>: it was already in main's
    /// buffer when the one before it was read, so it came in the same write (pipelined).
    /// <paramref name="Connection"/>: which of main's connections it came on (numbered from 1).
    /// </summary>
    private sealed record SentRequest(string RequestLine, string[] Headers, string Body, bool Buffered = false, int Connection = 0)
    {
        public string? Header(string name) => Headers
            .Where(h => h.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
            .Select(h => h[(name.Length + 1)..].Trim()).SingleOrDefault();
    }

    /// <summary>
    /// A main on a loopback port (<see cref="LoopbackServer"/>) that reads each request with
    /// the stand-ins' shared <see cref="RequestReader"/>, records it and answers as the script
    /// says, on as many keep-alive connections as it is given.
    /// </summary>
    private sealed class ScriptedMain : LoopbackServer
    {
        private readonly Func<SentRequest, CancellationToken, Task<Reply>> _script;
        private readonly List<SentRequest> _seen = [];
        private readonly System.Collections.Concurrent.ConcurrentDictionary<int, Socket> _open = new();
        private int _closed;
        private int _connections;

        public ScriptedMain(Func<SentRequest, CancellationToken, Task<Reply>> script)
        {
            _script = script;
            Start();
        }

        public IReadOnlyList<SentRequest> Seen
        {
            get { lock (_seen) return [.. _seen]; }
        }

        /// <summary>A request main answers itself, whatever the script (see <see cref="ProveMain"/>).</summary>
        public const string ProofPath = "/kvs/proof-of-tags";

        public void ResetClosed() => Volatile.Write(ref _closed, 0);

        /// <summary>Connections that ended (either side closed).</summary>
        public int Closed => Volatile.Read(ref _closed);

        /// <summary>
        /// The forwarder closed <paramref name="connection"/> (<see cref="SentRequest.Connection"/>),
        /// seen even while the script still holds the request that came on it.
        /// </summary>
        public bool HungUp(int connection)
        {
            try
            {
                return !_open.TryGetValue(connection, out var socket) || socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0;
            }
            catch (ObjectDisposedException)
            {
                return true; // served to its end meanwhile
            }
        }

        /// <summary>Like an AotKvs main, it echoes each request's Kvs-Tag on every final answer it writes; false: a main that does not.</summary>
        public bool EchoesTags { get; set; } = true;

        /// <summary>Answers the requests of one pipelined batch in reverse order, each with its own tag.</summary>
        public bool ReversesBatches { get; set; }

        private static string WithTag(string text, string? tag) => tag is null
            ? text
            : System.Text.RegularExpressions.Regex.Replace(text, @"(HTTP/1\.[01] [2-5][0-9][0-9][^\r]*\r\n)", $"$1Kvs-Tag: {tag}\r\n");

        protected override async Task ServeAsync(TcpClient client)
        {
            using var _ = client;
            var connection = Interlocked.Increment(ref _connections);
            _open[connection] = client.Client;
            try
            {
                var stream = client.GetStream();
                var reader = new RequestReader();
                var held = new List<string>();
                while (true)
                {
                    if (await reader.ReadAsync(stream, Stopping) is not { } read)
                        return; // the forwarder closed its side
                    var request = new SentRequest(read.RequestLine, [.. read.HeaderLines], read.BodyText, read.Buffered, connection);
                    var proof = PathOf(request) == ProofPath;
                    if (!proof)
                        lock (_seen) _seen.Add(request);

                    var reply = proof ? Answer(200, Found) : await _script(request, Stopping);
                    if (reply.Text is not null)
                        held.Add(EchoesTags ? WithTag(reply.Text, request.Header("Kvs-Tag")) : reply.Text);
                    if (ReversesBatches && reader.HasWholeRequest)
                        continue; // answered once the whole batch is read, last first
                    held.Reverse();
                    foreach (var answer in held)
                        await stream.WriteAsync(Encoding.UTF8.GetBytes(answer), Stopping);
                    held.Clear();
                    if (reply.Stray is not null)
                    {
                        await Task.Delay(30, Stopping);
                        await stream.WriteAsync(Encoding.UTF8.GetBytes(EchoesTags ? WithTag(reply.Stray, request.Header("Kvs-Tag")) : reply.Stray), Stopping);
                    }
                    if (reply.Close)
                        return;
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or MalformedRequestException) { }
            finally
            {
                _open.TryRemove(connection, out var _);
                Interlocked.Increment(ref _closed);
            }
        }

    }
}
