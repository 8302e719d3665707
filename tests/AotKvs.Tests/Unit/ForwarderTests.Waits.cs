using System.Diagnostics;
using AotKvs.Forwarding;
using AotKvs.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// Watch and expiry through a forwarder: Prefer and Kvs-Ttl reach main line for line, main's
/// Preference-Applied comes back on every status, and a GET or HEAD with Prefer: wait=N goes
/// to main alone (never pipelined, nothing queued behind it), with its bound extended by the
/// wait granted, and its connection closed when its client leaves. Every bound here has a
/// wide margin: the machine may be loaded.
/// </summary>
public sealed partial class ForwarderTests
{
    private static DefaultHttpContext Waiting(string method, string target, StringValues prefer, string? body = null)
    {
        var context = Request(method, target, body, body is null ? null : "application/json");
        context.Request.Headers["Prefer"] = prefer;
        return context;
    }

    /// <summary>
    /// On a forwarder with five connections (four lanes), one request on each lane, which the
    /// script holds (the paths "/kvs/held…"): every lane is busy, one connection is free.
    /// </summary>
    private List<Task> HoldEveryLane(Forwarder forwarder)
    {
        var held = Enumerable.Range(0, 4).Select(i => forwarder.ForwardAsync(Request("GET", $"/kvs/held{i}"))).ToList();
        Assert.True(Poll.Until(() => _main.Seen.Count == 4, TimeSpan.FromSeconds(10)), "the held requests never reached main");
        return held;
    }

    private SentRequest SeenOn(string path) => _main.Seen.Single(s => PathOf(s) == path);

    [Fact]
    public async Task Prefer_and_kvs_ttl_reach_main_line_for_line_beside_the_conditions()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(Answer(201, """{"result":"created"}"""));
        // Nothing in them is the forwarder's to judge: a TTL main would refuse goes on too.
        var prefer = new StringValues(["return=minimal", "handling=strict; x=\"caf\u00e9\", wait=5"]);
        var ttl = new StringValues(["60", "0x10"]);
        var put = Conditional("PUT", "/kvs/a", default, "*", """{"value":1}""");
        put.Request.Headers["Prefer"] = prefer;
        put.Request.Headers["Kvs-Ttl"] = ttl;

        await forwarder.ForwardAsync(put);

        var sent = Assert.Single(_main.Seen);
        static string OnTheWire(string line) => System.Text.Encoding.Latin1.GetString(System.Text.Encoding.UTF8.GetBytes(line));
        Assert.Equal(prefer.Select(v => OnTheWire("Prefer: " + v)), Lines(sent, "Prefer"));
        Assert.Equal(ttl.Select(v => "Kvs-Ttl: " + v), Lines(sent, "Kvs-Ttl"));
        Assert.Equal(["If-None-Match: *"], Lines(sent, "If-None-Match"));
        Assert.Equal("""{"value":1}""", sent.Body);
        AssertAnswer(put, 201, """{"result":"created"}""");
    }

    [Fact]
    public async Task A_waiting_get_reaches_main_with_its_prefer_and_condition_unchanged()
    {
        using var forwarder = NewForwarder();
        var get = Waiting("GET", "/kvs/a", new StringValues(["respond-async", "Wait=\"10\"; x=1"]));
        get.Request.Headers.IfNoneMatch = "\"5a17c0ffee15900d-0\"";

        await forwarder.ForwardAsync(get);

        var sent = Assert.Single(_main.Seen);
        Assert.Equal(["Prefer: respond-async", "Prefer: Wait=\"10\"; x=1"], Lines(sent, "Prefer"));
        Assert.Equal(["If-None-Match: \"5a17c0ffee15900d-0\""], Lines(sent, "If-None-Match"));
        Assert.Empty(Lines(sent, "Kvs-Ttl"));
        AssertAnswer(get, 200, Found);
    }

    [Fact]
    public async Task Relayed_lines_count_against_the_next_hops_bounds()
    {
        using var forwarder = NewForwarder();
        var tooMany = Conditional("GET", "/kvs/a", new StringValues([.. Enumerable.Repeat("\"t\"", 50)]), default);
        tooMany.Request.Headers["Prefer"] = new StringValues([.. Enumerable.Repeat("x=1", 25)]);
        tooMany.Request.Headers["Kvs-Ttl"] = new StringValues([.. Enumerable.Repeat("1", 20)]);
        var tooLong = Waiting("GET", "/kvs/a", "x=\"" + new string('p', 16_200) + "\"");
        tooLong.Request.Headers["Kvs-Ttl"] = new string('9', 16_200);
        var within = Conditional("GET", "/kvs/a", new StringValues([.. Enumerable.Repeat("\"t\"", 50)]), default);
        within.Request.Headers["Prefer"] = new StringValues([.. Enumerable.Repeat("x=1", 24)]);
        within.Request.Headers["Kvs-Ttl"] = new StringValues([.. Enumerable.Repeat("1", 20)]);

        await forwarder.ForwardAsync(tooMany);
        await forwarder.ForwardAsync(tooLong);
        await forwarder.ForwardAsync(within);

        AssertAnswer(tooMany, 431, Expected.HeadersTooLarge);
        AssertAnswer(tooLong, 431, Expected.HeadersTooLarge);
        AssertAnswer(within, 200, Found);
        var sent = Assert.Single(_main.Seen);
        Assert.Equal(24, Lines(sent, "Prefer").Length);
        Assert.Equal(20, Lines(sent, "Kvs-Ttl").Length);
    }

    public static TheoryData<int, string?> WaitAnswers() => new()
    {
        { 200, Found },
        { 304, null },
        { 404, Expected.KeyNotFound },
    };

    [Theory, MemberData(nameof(WaitAnswers))]
    public async Task Mains_preference_applied_is_relayed_exactly_on_every_status(int status, string? json)
    {
        using var forwarder = NewForwarder();
        const string tag = "\"5a17c0ffee15900d-1f\"";
        _script = (_, _) => Task.FromResult(json is null
            ? new Reply($"HTTP/1.1 304 Not Modified\r\nETag: {tag}\r\nPreference-Applied: wait=30\r\n\r\n")
            : Answer(status, json, "preference-applied: wait=30\r\n"));
        var context = Waiting("GET", "/kvs/a", "wait=30");
        context.Request.Headers.IfNoneMatch = tag;

        await forwarder.ForwardAsync(context);
        // The connection is still in step after it, and the next answer carries none.
        _script = (_, _) => Task.FromResult(Answer(200, Found));
        var next = Request("GET", "/kvs/b");
        await forwarder.ForwardAsync(next);

        Assert.Equal("wait=30", context.Response.Headers["Preference-Applied"].ToString());
        if (json is null)
        {
            Assert.Equal(304, context.Response.StatusCode);
            Assert.Equal(tag, context.Response.Headers.ETag.ToString());
            Assert.Empty(((MemoryStream)context.Response.Body).ToArray());
        }
        else
            AssertAnswer(context, status, json);
        AssertAnswer(next, 200, Found);
        Assert.Equal(0, next.Response.Headers["Preference-Applied"].Count);
        Assert.Equal(1, _dials);
    }

    [Theory]
    [InlineData("Preference-Applied: wait=1\r\nPreference-Applied: wait=1\r\n")] // twice
    [InlineData("Preference-Applied: wait=1; p\r\n")]
    [InlineData("Preference-Applied: \r\n")]
    [InlineData("Preference-Applied: wait=\"caf\u00e9\"\r\n")]                    // UTF-8 from main: not relayable
    public async Task A_preference_applied_that_cannot_be_relayed_is_a_503_not_a_500(string field)
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(Answer(200, Found, field));
        var context = Waiting("GET", "/kvs/a", "wait=1");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 503, Expected.CannotForward);
        Assert.Equal(0, context.Response.Headers["Preference-Applied"].Count);
    }

    /// <summary>
    /// Every lane has a request in flight, so a plain GET would queue behind one; a waiting GET
    /// reaches main at once, on a connection of its own, and the plain GETs arriving after it
    /// are pipelined and answered while main still holds it.
    /// </summary>
    [Fact]
    public async Task A_waiting_get_is_never_pipelined_and_nothing_waits_behind_it()
    {
        // A bound far beyond every poll: a request held back behind a lane shows as such, not as a timeout.
        using var forwarder = NewForwarder(TimeSpan.FromSeconds(30), upstreamConnections: 5, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        var answerWait = new TaskCompletionSource();
        _script = async (request, _) =>
        {
            var path = PathOf(request);
            if (path.StartsWith("/kvs/held", StringComparison.Ordinal))
                await gate.Task;
            else if (path == "/kvs/wait")
                await answerWait.Task;
            return Echo(request);
        };
        var held = HoldEveryLane(forwarder);
        var waiting = Waiting("GET", "/kvs/wait", "wait=60");
        var waitDone = forwarder.ForwardAsync(waiting);
        Assert.True(Poll.Until(() => _main.Seen.Any(s => PathOf(s) == "/kvs/wait"), TimeSpan.FromSeconds(10)),
            "the waiting GET was held back behind a busy lane");
        var plain = Enumerable.Range(0, 6).Select(i => (Path: $"/kvs/k{i}", Context: Request("GET", $"/kvs/k{i}"))).ToList();
        var plainDone = plain.Select(p => forwarder.ForwardAsync(p.Context)).ToList();
        await Task.Yield();

        gate.SetResult();
        await Task.WhenAll(held);
        await Task.WhenAll(plainDone);

        foreach (var (path, context) in plain)
            AssertAnswer(context, 200, Echoed(path));
        Assert.False(waitDone.IsCompleted); // main still holds it, and held nobody else with it
        var seen = _main.Seen;
        var wait = seen.Single(s => PathOf(s) == "/kvs/wait");
        Assert.False(wait.Buffered);
        Assert.DoesNotContain(seen, s => !ReferenceEquals(s, wait) && s.Connection == wait.Connection);
        Assert.Contains(seen, s => s.Buffered); // the plain GETs were pipelined meanwhile

        answerWait.SetResult();
        await waitDone;
        AssertAnswer(waiting, 200, Echoed("/kvs/wait"));
    }

    [Theory]
    [InlineData("GET", "wait=5")]
    [InlineData("HEAD", "respond-async, WAIT=\"5\"; p=1")]
    public async Task An_answer_to_a_wait_is_relayed_after_longer_than_the_plain_bound(string method, string prefer)
    {
        using var forwarder = NewForwarder(TimeSpan.FromMilliseconds(300));
        _script = async (request, _) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None); // well past 300 ms, well within 5.3 s
            return method == "HEAD"
                ? new Reply("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 28\r\nPreference-Applied: wait=5\r\n\r\n")
                : Answer(200, Found, "Preference-Applied: wait=5\r\n");
        };
        var context = Waiting(method, "/kvs/a", prefer);
        var clock = Stopwatch.StartNew();

        await forwarder.ForwardAsync(context);

        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.5), $"answered after {clock.Elapsed}");
        Assert.Equal(200, context.Response.StatusCode);
        Assert.Equal("wait=5", context.Response.Headers["Preference-Applied"].ToString());
        if (method == "GET")
            AssertAnswer(context, 200, Found);
        else
            Assert.Equal(28, context.Response.ContentLength);
        Assert.Equal([$"Prefer: {prefer}"], Lines(Assert.Single(_main.Seen), "Prefer"));
        Assert.True(_readiness.IsReady);
    }

    [Fact]
    public async Task A_wait_extends_the_bound_by_at_most_max_wait_seconds()
    {
        using var forwarder = NewForwarder(TimeSpan.FromMilliseconds(300), maxWaitSeconds: 1);
        _script = async (_, cancel) =>
        {
            await Task.Delay(Timeout.Infinite, cancel);
            throw new InvalidOperationException();
        };
        var context = Waiting("GET", "/kvs/a", "wait=600");
        var clock = Stopwatch.StartNew();

        var done = forwarder.ForwardAsync(context);
        Assert.Same(done, await Task.WhenAny(done, Task.Delay(TimeSpan.FromSeconds(60))));

        AssertAnswer(context, 503, Expected.CannotForward);
        // 300 ms + 1 s; a timer never fires this much early.
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.1), $"503 after {clock.Elapsed}");
    }

    /// <summary>
    /// The negative control: main answers after 3 s, so the 503 shows that the bound stayed
    /// 300 ms (a wait of 5 s would have let the answer through).
    /// </summary>
    [Theory]
    [InlineData("GET", null)]
    [InlineData("GET", "return=minimal")]
    [InlineData("GET", "wait=abc, wait=5")]  // only the first wait counts, and it is unparsable
    [InlineData("GET", "wait=0")]
    [InlineData("get", "wait=5")]            // not GET (main refuses it)
    [InlineData("PUT", "wait=5")]
    [InlineData("DELETE", "wait=5")]
    public async Task A_request_that_does_not_ask_a_get_or_head_to_wait_times_out_at_the_plain_bound(string method, string? prefer)
    {
        using var forwarder = NewForwarder(TimeSpan.FromMilliseconds(300));
        _script = async (request, _) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(3), CancellationToken.None);
            return Echo(request);
        };
        var body = method == "PUT" ? """{"value":1}""" : null;
        var context = prefer is null ? Request(method, "/kvs/a", body, body is null ? null : "application/json") : Waiting(method, "/kvs/a", prefer, body);

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 503, Expected.CannotForward);
    }

    /// <summary>
    /// Every lane is busy (a pipelined request would wait behind one, and a client leaving it
    /// would only stop waiting): the waiting GET is on a connection of its own, and its
    /// client leaving closes that connection, so main's waiter goes at once.
    /// </summary>
    [Fact]
    public async Task A_client_that_leaves_a_wait_closes_its_connection_to_main()
    {
        using var forwarder = NewForwarder(TimeSpan.FromSeconds(30), upstreamConnections: 5, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        _script = async (request, cancel) =>
        {
            if (PathOf(request) == "/kvs/wait")
                await Task.Delay(Timeout.Infinite, cancel); // main waits for a change that never comes
            else
                await gate.Task;
            return Echo(request);
        };
        var held = HoldEveryLane(forwarder);
        using var leaving = new CancellationTokenSource();
        var waiting = Waiting("GET", "/kvs/wait", "wait=60");
        waiting.RequestAborted = leaving.Token;
        var done = forwarder.ForwardAsync(waiting);
        Assert.True(Poll.Until(() => _main.Seen.Any(s => PathOf(s) == "/kvs/wait"), TimeSpan.FromSeconds(10)), "the waiting GET never reached main");
        var connection = SeenOn("/kvs/wait").Connection;
        Assert.False(_main.HungUp(connection));

        leaving.Cancel();

        Assert.Same(done, await Task.WhenAny(done, Task.Delay(TimeSpan.FromSeconds(10))));
        Assert.True(Poll.Until(() => _main.HungUp(connection), TimeSpan.FromSeconds(10)), "main's connection stayed open after the client left");
        Assert.Empty(((MemoryStream)waiting.Response.Body).ToArray()); // nobody to answer
        Assert.DoesNotContain(held, h => h.IsCompleted); // the lanes were busy all along
        gate.SetResult();
        await Task.WhenAll(held);
    }
}
