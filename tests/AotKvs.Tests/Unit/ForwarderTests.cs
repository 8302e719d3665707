using AotKvs.Tests.Support;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using AotKvs.Configuration;
using AotKvs.Forwarding;
using AotKvs.Operations;
using AotKvs.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The forwarder in process, with a scripted main behind it: what it sends, what it relays,
/// how each failure becomes the SPEC's 503, and the fresh pool after a failure. The process
/// tests prove the timing over real sockets.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ForwarderTests : IDisposable
{

    private readonly List<ScriptedMain> _pools = [];
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly Readiness _readiness = new(null, NullLogger<Readiness>.Instance);
    private readonly MetricsCollector _collector = new();
    private Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> _main = (_, _) => Task.FromResult(Json(200, """{"result":"found","value":1}"""));

    private Forwarder NewForwarder(TimeSpan? timeout = null, int upstreamConnections = 256)
    {
        var options = ServiceOptions.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FORWARDING_ADDRESS"] = "10.10.0.2:8090",
            ["KVS_FORWARD_TIMEOUT_MS"] = ((int)(timeout ?? TimeSpan.FromSeconds(1)).TotalMilliseconds).ToString(),
            ["KVS_UPSTREAM_CONNECTIONS"] = upstreamConnections.ToString(),
        }).Build());
        var metrics = new ServiceMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), _collector, options, _readiness, new BufferBudget(long.MaxValue));
        return new Forwarder(options.Forwarding!, options.ForwardTimeout, options.UpstreamConnections, new UpstreamReport(_readiness, metrics), () =>
        {
            var pool = new ScriptedMain((request, cancel) => _main(request, cancel));
            _pools.Add(pool);
            return pool;
        });
    }

    [Fact]
    public async Task Sends_method_raw_target_body_and_content_type_and_adds_its_via_entry()
    {
        using var forwarder = NewForwarder();
        _main = (_, _) => Task.FromResult(Json(201, """{"result":"created"}"""));
        var context = Request("PUT", "/kvs/a%2Fb/../c?x=%20", """{"value": [1]}""", "text/plain", via: "1.1 edge");

        await forwarder.ForwardAsync(context);

        var sent = Assert.Single(Assert.Single(_pools).Seen);
        Assert.Equal("PUT", sent.Method);
        Assert.Equal("http://10.10.0.2:8090/kvs/a%2Fb/../c?x=%20", sent.Uri);
        Assert.Equal("""{"value": [1]}""", sent.Body);
        Assert.Equal("text/plain", sent.ContentType);
        Assert.Matches("^1.1 edge, 1.1 aotkvs-[0-9a-f]{12}$", sent.Via);
        AssertAnswer(context, 201, Expected.Created);
    }

    [Fact]
    public async Task Relays_status_content_type_allow_and_body()
    {
        using var forwarder = NewForwarder();
        _main = (_, _) =>
        {
            var answer = Json(405, """{"error":"Method not allowed"}""");
            answer.Content.Headers.TryAddWithoutValidation("Allow", "GET, HEAD, PUT, DELETE");
            return Task.FromResult(answer);
        };
        var context = Request("POST", "/kvs/a", "{}", "application/json");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 405, Expected.MethodNotAllowed);
        Assert.Equal("GET, HEAD, PUT, DELETE", context.Response.Headers.Allow.ToString());
    }

    [Fact]
    public async Task HEAD_keeps_mains_content_length_and_sends_no_body()
    {
        using var forwarder = NewForwarder();
        _main = (_, _) =>
        {
            var answer = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
            answer.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            answer.Content.Headers.ContentLength = 28;
            return Task.FromResult(answer);
        };
        var context = Request("HEAD", "/kvs/a");

        await forwarder.ForwardAsync(context);

        Assert.Equal("HEAD", Assert.Single(Assert.Single(_pools).Seen).Method);
        Assert.Equal(200, context.Response.StatusCode);
        Assert.Equal(28, context.Response.ContentLength);
        Assert.Equal(0, context.Response.Body.Length);
    }

    public static TheoryData<string> Failures() => ["refused", "unreachable", "dropped before the answer", "answer cut short", "silent"];

    [Theory, MemberData(nameof(Failures))]
    public async Task Every_failure_to_get_a_whole_answer_is_503_and_marks_main_not_ready(string failure)
    {
        using var forwarder = NewForwarder(TimeSpan.FromMilliseconds(200));
        _main = failure switch
        {
            "refused" => (_, _) => throw new HttpRequestException("refused", new SocketException((int)SocketError.ConnectionRefused)),
            "unreachable" => (_, _) => throw new HttpRequestException("no route", new SocketException((int)SocketError.HostUnreachable)),
            "dropped before the answer" => (_, _) => throw new HttpIOException(HttpRequestError.ResponseEnded),
            "answer cut short" => (_, _) => Task.FromResult(CutShort()),
            _ => async (_, cancel) => { await Task.Delay(Timeout.Infinite, cancel); throw new InvalidOperationException(); },
        };
        var context = Request("GET", "/kvs/a");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 503, Expected.CannotForward);
        Assert.False(_readiness.IsReady);
    }

    [Fact]
    public async Task After_a_failure_the_next_request_goes_through_a_fresh_pool()
    {
        using var forwarder = NewForwarder();
        var refuse = true;
        _main = (_, _) => refuse
            ? throw new HttpRequestException("refused", new SocketException((int)SocketError.ConnectionRefused))
            : Task.FromResult(Json(200, """{"result":"deleted"}"""));

        await forwarder.ForwardAsync(Request("DELETE", "/kvs/a"));
        refuse = false;
        var context = Request("DELETE", "/kvs/a");
        await forwarder.ForwardAsync(context);

        Assert.Equal(2, _pools.Count);
        Assert.Single(_pools[1].Seen);
        AssertAnswer(context, 200, Expected.Deleted);
        Assert.True(_readiness.IsReady);
    }

    [Fact]
    public async Task A_timeout_while_main_answers_others_keeps_the_pool_and_readiness()
    {
        using var forwarder = NewForwarder(TimeSpan.FromMilliseconds(300));
        _main = async (request, cancel) =>
        {
            if (request.RequestUri!.AbsolutePath == "/kvs/slow")
                await Task.Delay(Timeout.Infinite, cancel);
            return Json(200, """{"result":"deleted"}""");
        };
        var slow = Request("DELETE", "/kvs/slow");
        var slowDone = forwarder.ForwardAsync(slow);
        await forwarder.ForwardAsync(Request("DELETE", "/kvs/quick")); // main answers meanwhile

        await slowDone;

        AssertAnswer(slow, 503, Expected.CannotForward);
        Assert.Single(_pools); // an overloaded main is not a vanished one: no new pool
        Assert.True(_readiness.IsReady);
        Assert.Contains("kvs_forward_errors_total{cause=\"timeout\"} 1", _collector.Scrape());
    }

    [Fact]
    public async Task Requests_beyond_the_connection_bound_wait_for_a_connection()
    {
        using var forwarder = NewForwarder(TimeSpan.FromSeconds(5), upstreamConnections: 2);
        var inFlight = 0;
        var most = 0;
        _main = async (_, _) =>
        {
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref most, now);
            await Task.Delay(20);
            Interlocked.Decrement(ref inFlight);
            return Json(200, """{"result":"deleted"}""");
        };
        var contexts = Enumerable.Range(0, 10).Select(_ => Request("DELETE", "/kvs/a")).ToList();

        await Task.WhenAll(contexts.Select(forwarder.ForwardAsync));

        Assert.Equal(2, most);
        Assert.All(contexts, context => AssertAnswer(context, 200, Expected.Deleted));
    }

    [Fact]
    public async Task A_request_that_finds_no_free_connection_within_the_bound_is_503_counted_as_busy()
    {
        using var forwarder = NewForwarder(TimeSpan.FromMilliseconds(300), upstreamConnections: 1);
        var mainHasIt = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var calls = 0;
        _main = async (_, _) =>
        {
            Interlocked.Increment(ref calls);
            mainHasIt.TrySetResult();
            await release.Task; // deaf to the deadline: the holder keeps its connection until released
            return Json(200, """{"result":"deleted"}""");
        };
        var holding = forwarder.ForwardAsync(Request("DELETE", "/kvs/a"));
        await mainHasIt.Task;
        var waiter = Request("DELETE", "/kvs/b");

        await forwarder.ForwardAsync(waiter); // waits out its whole bound for the one connection

        AssertAnswer(waiter, 503, Expected.CannotForward);
        Assert.Equal(1, Volatile.Read(ref calls)); // the waiter never reached main
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
        var ownVia = Assert.Single(_pools[0].Seen).Via;

        var context = Request("GET", "/kvs/a", via: "1.1 other, " + ownVia);
        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 508, Expected.LoopDetected);
        Assert.Single(_pools[0].Seen); // never sent on
    }

    [Theory]
    [InlineData("get", "/kvs/a", 405, Expected.MethodNotAllowed)]
    [InlineData("Delete", "/kvs/a", 405, Expected.MethodNotAllowed)]
    [InlineData("put", "/kvs/", 400, Expected.KeyMissing)]
    public async Task A_method_the_client_library_would_rewrite_is_answered_here_as_main_would(string method, string target, int status, string body)
    {
        using var forwarder = NewForwarder();
        var context = Request(method, target);

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, status, body);
        Assert.Empty(_pools[0].Seen);
    }

    [Fact]
    public async Task A_via_the_next_hop_would_refuse_is_a_json_431()
    {
        using var forwarder = NewForwarder();
        var context = Request("GET", "/kvs/a", via: "1.1 far (" + new string('v', 32_300) + ")");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 431, Expected.HeadersTooLarge);
        Assert.Empty(_pools[0].Seen);
    }

    [Fact]
    public async Task A_target_that_is_not_a_path_is_refused()
    {
        using var forwarder = NewForwarder();
        var context = Request("OPTIONS", "*");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 400, Expected.BadTarget);
        Assert.Empty(_pools[0].Seen);
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

    private static HttpResponseMessage Json(int status, string body)
    {
        var answer = new HttpResponseMessage((HttpStatusCode)status) { Content = new StringContent(body) };
        answer.Content.Headers.Remove("Content-Type");
        answer.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        return answer;
    }

    /// <summary>An answer that announces 100 bytes and delivers 10.</summary>
    private static HttpResponseMessage CutShort()
    {
        var answer = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new MemoryStream(new byte[10])) };
        answer.Content.Headers.ContentLength = 100;
        return answer;
    }

    public void Dispose()
    {
        _collector.Dispose();
        _services.Dispose();
    }

    private sealed class BodyDetection(bool canHaveBody) : IHttpRequestBodyDetectionFeature
    {
        public bool CanHaveBody => canHaveBody;
    }

    /// <summary>What main received, read before the forwarder disposes the request.</summary>
    internal sealed record SentRequest(string Method, string Uri, string? Body, string? ContentType, string? Via);

    /// <summary>A handler standing in for one connection pool to main.</summary>
    private sealed class ScriptedMain(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer) : HttpMessageHandler
    {
        public List<SentRequest> Seen { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancel)
        {
            var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancel);
            Seen.Add(new SentRequest(request.Method.Method, request.RequestUri!.OriginalString, body,
                request.Content?.Headers.ContentType?.ToString(),
                request.Headers.TryGetValues("Via", out var via) ? string.Join(", ", via) : null));
            return await answer(request, cancel);
        }
    }
}
