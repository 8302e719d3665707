using System.Text;
using AotKvs.Protocol;
using AotKvs.Tests.Support;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// No client ever gets another's answer: each answer is tied to its request by the tag main
/// echoes, a main that does not echo gets one request per connection, and one member's
/// failure in a pipelined batch belongs to that member alone.
/// </summary>
public sealed partial class ForwarderTests
{
    [Fact]
    public async Task Every_request_carries_a_tag_of_its_own()
    {
        using var forwarder = NewForwarder();
        for (var i = 0; i < 3; i++)
            await forwarder.ForwardAsync(Request("GET", "/kvs/a"));

        var tags = _main.Seen.Select(s => s.Header("Kvs-Tag")).ToList();
        Assert.All(tags, tag => Assert.Matches("^[0-9a-f]{16}$", tag));
        Assert.Equal(3, tags.Distinct().Count());
    }

    [Fact]
    public async Task A_main_that_does_not_echo_tags_gets_each_request_alone_on_a_connection_of_its_own()
    {
        _main.EchoesTags = false;
        using var forwarder = NewForwarder(pipelineTiming: WideWindow, proven: false);
        _script = (request, _) => Task.FromResult(Echo(request));

        var contexts = Enumerable.Range(0, 20).Select(i => (Path: $"/kvs/k{i}", Context: Request("GET", $"/kvs/k{i}"))).ToList();
        await Task.WhenAll(contexts.Select(c => forwarder.ForwardAsync(c.Context)));

        foreach (var (path, context) in contexts)
            AssertAnswer(context, 200, Echoed(path));
        Assert.Equal(20, _dials);
        Assert.All(_main.Seen, s => Assert.Equal("close", s.Header("Connection")));
        Assert.All(_main.Seen, s => Assert.False(s.Buffered));
    }

    [Fact]
    public async Task Once_main_echoes_tags_its_connections_are_kept()
    {
        using var forwarder = NewForwarder(proven: false);
        for (var i = 0; i < 3; i++)
            await forwarder.ForwardAsync(Request("GET", "/kvs/a"));

        Assert.Equal("close", _main.Seen[0].Header("Connection")); // not yet known to echo
        Assert.All(_main.Seen.Skip(1), s => Assert.Null(s.Header("Connection")));
        Assert.Equal(2, _dials); // the first alone, then one kept
    }

    [Fact]
    public async Task An_answer_carrying_another_requests_tag_is_never_relayed()
    {
        using var forwarder = NewForwarder();
        _main.EchoesTags = false; // it writes the tags itself now: always the first one it saw
        string? firstTag = null;
        _script = (request, _) =>
        {
            firstTag ??= request.Header("Kvs-Tag");
            return Task.FromResult(Echo(request, $"Kvs-Tag: {firstTag}\r\n"));
        };

        var first = Request("GET", "/kvs/first");
        await forwarder.ForwardAsync(first);
        var second = Request("GET", "/kvs/second");
        await forwarder.ForwardAsync(second);

        AssertAnswer(first, 200, Echoed("/kvs/first"));
        AssertAnswer(second, 503, Expected.CannotForward);
    }

    [Theory]
    [InlineData(true)]  // main echoes tags, the stray answer too: it carries the tag of the request before
    [InlineData(false)] // main does not: every request has a connection of its own
    public async Task A_stray_answer_after_a_whole_one_never_becomes_the_next_requests_answer(bool echoes)
    {
        _main.EchoesTags = echoes;
        using var forwarder = NewForwarder(pipelineTiming: WideWindow, proven: echoes);
        _script = (request, _) => Task.FromResult(Echo(request) with
        {
            Stray = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 38\r\n\r\n" + """{"result":"found","value":"injected"}""" + " ",
        });

        for (var i = 0; i < 6; i++)
        {
            var context = Request("GET", $"/kvs/k{i}");
            await forwarder.ForwardAsync(context);
            if (context.Response.StatusCode != 503)
                AssertAnswer(context, 200, Echoed($"/kvs/k{i}"));
            if (i % 2 == 1)
                await Task.Delay(60); // the stray is in the socket before the next request
        }
        var after = Request("GET", "/kvs/after");
        await Task.Delay(60);
        await forwarder.ForwardAsync(after);
        AssertAnswer(after, 200, Echoed("/kvs/after")); // an idle connection with stray bytes is not reused
    }

    [Fact]
    public async Task A_batch_answered_in_reverse_order_gives_no_one_another_ones_answer()
    {
        _main.ReversesBatches = true;
        using var forwarder = NewForwarder(upstreamConnections: 1, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        HoldFirstUntil(gate);
        var (first, batch) = await FillOneLaneAsync(forwarder, count: 5);

        await ReleaseAsync(gate, first, batch);

        Assert.True(_main.Seen.Count(s => s.Buffered) >= 3, "the batch was not pipelined");
        foreach (var (_, context, _) in batch)
            AssertAnswer(context, 503, Expected.CannotForward); // main may have acted on each: the usual 503, never a wrong 200
    }

    [Fact]
    public async Task One_members_answer_over_the_budget_leaves_the_others_theirs_and_no_one_is_told_busy_for_a_write()
    {
        var big = new string('x', 100_000);
        using var forwarder = NewForwarder(upstreamConnections: 1, pipelineTiming: WideWindow, budget: new BufferBudget(64 * 1024));
        var gate = new TaskCompletionSource();
        HoldFirstUntil(gate, request => PathOf(request) == "/kvs/k1"
            ? Answer(200, $$"""{"result":"found","value":"{{big}}"}""")
            : Echo(request));
        var (first, batch) = await FillOneLaneAsync(forwarder, count: 4);

        await ReleaseAsync(gate, first, batch);

        AssertAnswer(batch[1].Context, 503, Expected.Busy);
        foreach (var i in new[] { 0, 2, 3 })
            AssertAnswer(batch[i].Context, 200, Echoed(batch[i].Path));
        Assert.Equal(5, _main.Seen.Count); // nothing went twice
    }

    [Fact]
    public async Task A_member_whose_client_leaves_changes_nothing_for_the_others()
    {
        using var forwarder = NewForwarder(upstreamConnections: 1, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        HoldFirstUntil(gate);
        var first = forwarder.ForwardAsync(Request("GET", "/kvs/first"));
        Assert.True(Poll.Until(() => _main.Seen.Count == 1, TimeSpan.FromSeconds(5)));
        var leaving = new CancellationTokenSource();
        var members = new List<(string Path, DefaultHttpContext Context, Task Done)>();
        for (var i = 0; i < 4; i++)
        {
            var context = Request("GET", $"/kvs/k{i}");
            if (i is 0 or 2)
                context.RequestAborted = leaving.Token;
            members.Add(($"/kvs/k{i}", context, forwarder.ForwardAsync(context)));
        }
        leaving.Cancel(); // two leave while the batch waits; one of them would have sent it

        await ReleaseAsync(gate, first, members);

        AssertAnswer(members[1].Context, 200, Echoed("/kvs/k1"));
        AssertAnswer(members[3].Context, 200, Echoed("/kvs/k3"));
    }

    [Fact]
    public async Task A_member_that_runs_out_of_time_changes_nothing_for_the_others()
    {
        using var forwarder = NewForwarder(TimeSpan.FromMilliseconds(1500), upstreamConnections: 1, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        var slow = new TaskCompletionSource();
        _script = async (request, _) =>
        {
            if (PathOf(request) == "/kvs/first")
                await gate.Task;
            if (PathOf(request) == "/kvs/k0")
                await slow.Task; // past k0's bound
            return Echo(request);
        };
        var first = forwarder.ForwardAsync(Request("GET", "/kvs/first"));
        Assert.True(Poll.Until(() => _main.Seen.Count == 1, TimeSpan.FromSeconds(5)));
        var k0 = Request("GET", "/kvs/k0");
        var k0Done = forwarder.ForwardAsync(k0);
        await Task.Delay(750); // the others join the same batch later: their bounds end later
        var later = Enumerable.Range(1, 2).Select(i => (Path: $"/kvs/k{i}", Context: Request("GET", $"/kvs/k{i}"))).ToList();
        var laterDone = later.Select(l => forwarder.ForwardAsync(l.Context)).ToList();
        gate.SetResult();
        await first;

        await k0Done; // k0 gave up at its bound while main held its answer
        AssertAnswer(k0, 503, Expected.CannotForward);
        slow.SetResult();
        await Task.WhenAll(laterDone);

        foreach (var (path, context) in later)
            AssertAnswer(context, 200, Echoed(path));
        Assert.Equal(4, _main.Seen.Count); // nothing went twice
    }

    [Theory]
    [InlineData(204)]
    [InlineData(205)]
    [InlineData(304)]
    public async Task A_no_content_answer_is_relayed_without_content_whatever_main_sends(int status)
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(new Reply($"HTTP/1.1 {status} X\r\nContent-Length: 5\r\n\r\nhello"));
        var context = Request("GET", "/kvs/a");

        await forwarder.ForwardAsync(context);

        Assert.Equal(status, context.Response.StatusCode);
        Assert.Empty(((MemoryStream)context.Response.Body).ToArray());
    }

    [Theory]
    [InlineData("Content-Type: text/plain; charset=\xE9\r\n")]
    [InlineData("Allow: GET, \xE9\r\n")]
    public async Task A_header_value_that_cannot_be_relayed_is_a_503_not_a_500(string field)
    {
        using var forwarder = NewForwarder();
        var body = Encoding.Latin1.GetBytes("""{"error":"x"}""");
        _script = (_, _) => Task.FromResult(new Reply($"HTTP/1.1 405 X\r\n{field}Content-Length: {body.Length}\r\n\r\n{Encoding.Latin1.GetString(body)}"));
        var context = Request("GET", "/kvs/a");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 503, Expected.CannotForward);
    }

    /// <summary>A chunked answer of <paramref name="size"/> bytes of JSON, in chunks of 1,000.</summary>
    private static Reply ChunkedFound(int size)
    {
        var json = $$"""{"result":"found","value":"{{new string('x', size - 29)}}"}""";
        var body = new StringBuilder();
        for (var at = 0; at < json.Length; at += 1000)
        {
            var chunk = json.Substring(at, Math.Min(1000, json.Length - at));
            body.Append($"{chunk.Length:x}\r\n{chunk}\r\n");
        }
        return new Reply($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{body}0\r\n\r\n");
    }

    [Theory]
    [InlineData(false)] // Content-Length
    [InlineData(true)]  // chunked
    public async Task An_answer_over_the_budget_is_read_to_its_end_so_the_batch_behind_it_gets_its_answers(bool chunked)
    {
        var big = new string('x', 100_000);
        using var forwarder = NewForwarder(upstreamConnections: 1, pipelineTiming: WideWindow, budget: new BufferBudget(64 * 1024));
        var gate = new TaskCompletionSource();
        HoldFirstUntil(gate, request => PathOf(request) == "/kvs/k0"
            ? (chunked ? ChunkedFound(100_000) : Answer(200, $$"""{"result":"found","value":"{{big}}"}"""))
            : Echo(request));
        var (first, batch) = await FillOneLaneAsync(forwarder, count: 3);

        await ReleaseAsync(gate, first, batch);

        AssertAnswer(batch[0].Context, 503, Expected.Busy);
        AssertAnswer(batch[1].Context, 200, Echoed("/kvs/k1"));
        AssertAnswer(batch[2].Context, 200, Echoed("/kvs/k2"));
        Assert.Equal(1, _dials); // the connection stayed in step: nothing went again
    }

    [Fact]
    public async Task A_lone_answer_over_the_budget_is_busy_and_small_answers_are_held_whatever_the_budget()
    {
        var budget = new BufferBudget(1024);
        using var forwarder = NewForwarder(budget: budget);
        _script = (request, _) => Task.FromResult(PathOf(request) == "/kvs/big"
            ? Answer(200, $$"""{"result":"found","value":"{{new string('x', 5000)}}"}""")
            : Answer(200, Deleted));
        budget.ReserveAnyway(1024); // the budget is spent, by others

        var big = Request("GET", "/kvs/big");
        await forwarder.ForwardAsync(big);
        var delete = Request("DELETE", "/kvs/a");
        await forwarder.ForwardAsync(delete);

        AssertAnswer(big, 503, Expected.Busy);
        AssertAnswer(delete, 200, Expected.Deleted); // main acted on it: its answer is relayed
        Assert.Equal(1024, budget.InUse); // what was held for it is given back
    }

    [Fact]
    public async Task An_untagged_answer_on_a_kept_connection_is_refused_and_main_is_no_longer_trusted_with_keep_alive()
    {
        using var forwarder = NewForwarder();
        await forwarder.ForwardAsync(Request("GET", "/kvs/a")); // a kept connection
        _main.EchoesTags = false;

        var untagged = Request("GET", "/kvs/b");
        await forwarder.ForwardAsync(untagged);
        var next = Request("GET", "/kvs/c");
        await forwarder.ForwardAsync(next);
        await forwarder.ForwardAsync(Request("GET", "/kvs/d"));

        AssertAnswer(untagged, 503, Expected.CannotForward); // it came on a connection that carried another answer
        AssertAnswer(next, 200, Found); // alone on a fresh connection: the one answer it can carry is its own
        Assert.Equal("close", _main.Seen[^1].Header("Connection")); // from then on, main is not trusted with more than one
    }

    [Fact]
    public async Task A_batch_whose_members_all_left_is_never_sent()
    {
        using var forwarder = NewForwarder(upstreamConnections: 1, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        HoldFirstUntil(gate);
        var first = forwarder.ForwardAsync(Request("GET", "/kvs/first"));
        Assert.True(Poll.Until(() => _main.Seen.Count == 1, TimeSpan.FromSeconds(5)));
        var leaving = new CancellationTokenSource();
        var members = Enumerable.Range(0, 3).Select(i =>
        {
            var context = Request("GET", $"/kvs/k{i}");
            context.RequestAborted = leaving.Token;
            return ($"/kvs/k{i}", context, forwarder.ForwardAsync(context));
        }).ToList();
        leaving.Cancel();

        await ReleaseAsync(gate, first, members);
        var after = Request("GET", "/kvs/after");
        await forwarder.ForwardAsync(after);

        AssertAnswer(after, 200, Echoed("/kvs/after"));
        Assert.Equal(["/kvs/first", "/kvs/after"], _main.Seen.Select(PathOf));
    }

    [Fact]
    public async Task When_main_closes_part_way_pipelining_pauses()
    {
        using var forwarder = NewForwarder(upstreamConnections: 1, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        HoldFirstUntil(gate, request => PathOf(request) == "/kvs/k0" ? Echo(request, "Connection: close\r\n") with { Close = true } : Echo(request));
        var (first, batch) = await FillOneLaneAsync(forwarder, count: 3);
        await ReleaseAsync(gate, first, batch);
        var seenBefore = _main.Seen.Count;

        gate = new TaskCompletionSource();
        HoldFirstUntil(gate);
        var (again, wave) = await FillOneLaneAsync(forwarder, count: 3, seenBefore: seenBefore);
        await ReleaseAsync(gate, again, wave);

        foreach (var (path, context, _) in wave)
            AssertAnswer(context, 200, Echoed(path));
        Assert.All(_main.Seen.Skip(seenBefore), s => Assert.False(s.Buffered)); // paused: each alone
    }

    [Fact]
    public async Task A_member_that_leaves_while_the_batch_reads_the_one_before_it_changes_nothing_for_those_after_it()
    {
        using var forwarder = NewForwarder(upstreamConnections: 1, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        var k0 = new TaskCompletionSource();
        _script = async (request, _) =>
        {
            if (PathOf(request) == "/kvs/first")
                await gate.Task;
            if (PathOf(request) == "/kvs/k0")
                await k0.Task;
            return Echo(request);
        };
        var first = forwarder.ForwardAsync(Request("GET", "/kvs/first"));
        Assert.True(Poll.Until(() => _main.Seen.Count == 1, TimeSpan.FromSeconds(5)));
        var leaving = new CancellationTokenSource();
        var members = Enumerable.Range(0, 3).Select(i =>
        {
            var context = Request("GET", $"/kvs/k{i}");
            if (i == 1)
                context.RequestAborted = leaving.Token;
            return (Path: $"/kvs/k{i}", Context: context, Done: forwarder.ForwardAsync(context));
        }).ToList();
        gate.SetResult();
        await first;
        Assert.True(Poll.Until(() => _main.Seen.Count == 2, TimeSpan.FromSeconds(5)), "the batch was not sent"); // main holds k0

        leaving.Cancel(); // k1 leaves while the batch waits for k0's answer
        await members[1].Done;
        k0.SetResult();
        await Task.WhenAll(members.Select(m => m.Done));

        AssertAnswer(members[0].Context, 200, Echoed("/kvs/k0"));
        AssertAnswer(members[2].Context, 200, Echoed("/kvs/k2"));
        Assert.Equal(["/kvs/first", "/kvs/k0", "/kvs/k1", "/kvs/k2"], _main.Seen.Select(PathOf)); // k1 was sent once, its answer dropped
        Assert.Contains("kvs_forward_batches_total 1", _collector.Scrape());
        Assert.Contains("kvs_forward_pipelined_total 3", _collector.Scrape());
    }
}
