using AotKvs.Forwarding.Pipelining;
using AotKvs.Forwarding;
using AotKvs.Tests.Support;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// HTTP/1.1 pipelining to main: requests that arrive while a lane's batch is in flight go to
/// main together, each gets its own answer, and a batch that fails is never sent twice
/// except when main provably acted on none of it.
/// </summary>
public sealed partial class ForwarderTests
{
    /// <summary>Joining is never refused for the batch's age: a test machine can be slow at any moment.</summary>
    private static readonly UpstreamPipeline.Timing WideWindow = new(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));

    /// <summary>Main answers each GET with the path it was asked for, so a mixed-up answer shows.</summary>
    private static Reply Echo(SentRequest request, string extraHeaders = "") =>
        Answer(200, $$"""{"result":"found","value":"{{PathOf(request)}}"}""", extraHeaders);

    private static string PathOf(SentRequest request) => request.RequestLine.Split(' ')[1];

    private static string Echoed(string path) => $$"""{"result":"found","value":"{{path}}"}""";

    /// <summary>Main holds "/kvs/first" until <paramref name="gate"/> opens; every request is then answered by <paramref name="reply"/> (by default, <see cref="Echo"/>).</summary>
    private void HoldFirstUntil(TaskCompletionSource gate, Func<SentRequest, Reply>? reply = null) =>
        _script = async (request, _) =>
        {
            if (PathOf(request) == "/kvs/first")
                await gate.Task;
            return (reply ?? (r => Echo(r)))(request);
        };

    /// <summary>Opens the gate and waits for the first request and the batch behind it.</summary>
    private static async Task ReleaseAsync(TaskCompletionSource gate, Task first, IEnumerable<(string Path, DefaultHttpContext Context, Task Done)> batch)
    {
        gate.SetResult();
        await first;
        await Task.WhenAll(batch.Select(b => b.Done));
    }

    /// <summary>
    /// On a forwarder with one lane: "/kvs/first" goes to main (whose script holds it), then
    /// <paramref name="count"/> more arrive and wait behind it. <paramref name="seenBefore"/>:
    /// requests main saw earlier in the test.
    /// </summary>
    private async Task<(Task First, List<(string Path, DefaultHttpContext Context, Task Done)> Batch)> FillOneLaneAsync(
        Forwarder forwarder, int count = 5, int seenBefore = 0)
    {
        var first = forwarder.ForwardAsync(Request("GET", "/kvs/first"));
        Assert.True(Poll.Until(() => _main.Seen.Count == seenBefore + 1, TimeSpan.FromSeconds(5)), "the first request never reached main");
        var batch = new List<(string, DefaultHttpContext, Task)>();
        for (var i = 0; i < count; i++)
        {
            var context = Request("GET", $"/kvs/k{i}");
            batch.Add(($"/kvs/k{i}", context, forwarder.ForwardAsync(context)));
        }
        await Task.Yield();
        Assert.Equal(seenBefore + 1, _main.Seen.Count); // the others wait for the lane
        return (first, batch);
    }

    [Fact]
    public async Task Requests_arriving_while_the_lane_is_busy_reach_main_in_one_write_and_each_gets_its_own_answer()
    {
        using var forwarder = NewForwarder(upstreamConnections: 1, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        HoldFirstUntil(gate);
        var (first, batch) = await FillOneLaneAsync(forwarder);

        await ReleaseAsync(gate, first, batch);

        foreach (var (path, context, _) in batch)
            AssertAnswer(context, 200, Echoed(path));
        Assert.Equal(1, _dials);
        var seen = _main.Seen;
        Assert.Equal(["/kvs/first", .. batch.Select(b => b.Path)], seen.Select(PathOf));
        // The five came in one write: after the first of them, each was already in main's buffer.
        Assert.Equal([false, false, true, true, true, true], seen.Select(s => s.Buffered));
    }

    [Fact]
    public async Task With_pipelining_off_requests_never_share_a_write()
    {
        using var forwarder = NewForwarder(upstreamConnections: 1, pipeline: 1, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        HoldFirstUntil(gate);
        var (first, batch) = await FillOneLaneAsync(forwarder, count: 3);

        await ReleaseAsync(gate, first, batch);

        foreach (var (path, context, _) in batch)
            AssertAnswer(context, 200, Echoed(path));
        Assert.All(_main.Seen, s => Assert.False(s.Buffered));
    }

    [Fact]
    public async Task When_main_closes_after_an_answer_in_a_batch_the_rest_go_again_on_a_fresh_connection()
    {
        using var forwarder = NewForwarder(upstreamConnections: 1, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        // Main says it closes after k0, and reads nothing more on that connection.
        HoldFirstUntil(gate, request => PathOf(request) == "/kvs/k0" ? Echo(request, "Connection: close\r\n") with { Close = true } : Echo(request));
        var (first, batch) = await FillOneLaneAsync(forwarder, count: 3);

        await ReleaseAsync(gate, first, batch);

        foreach (var (path, context, _) in batch)
            AssertAnswer(context, 200, Echoed(path));
        Assert.Equal(2, _dials);
        // k1 and k2 were acted on once: on the fresh connection.
        Assert.Equal(["/kvs/first", "/kvs/k0", "/kvs/k1", "/kvs/k2"], _main.Seen.Select(PathOf));
    }

    [Fact]
    public async Task A_connection_lost_in_the_middle_of_a_batch_fails_the_rest_without_sending_them_again()
    {
        using var forwarder = NewForwarder(upstreamConnections: 1, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        // Main acts on k1 (it may have) and is gone before answering it.
        HoldFirstUntil(gate, request => PathOf(request) == "/kvs/k1" ? new Reply(null, Close: true) : Echo(request));
        var (first, batch) = await FillOneLaneAsync(forwarder, count: 3);

        await ReleaseAsync(gate, first, batch);

        AssertAnswer(batch[0].Context, 200, Echoed("/kvs/k0"));
        AssertAnswer(batch[1].Context, 503, Expected.CannotForward);
        AssertAnswer(batch[2].Context, 503, Expected.CannotForward);
        Assert.Equal(1, _dials); // no retry: main had started answering the batch
        Assert.Equal(["/kvs/first", "/kvs/k0", "/kvs/k1"], _main.Seen.Select(PathOf));
        Assert.Contains("kvs_forward_errors_total{cause=\"dropped\"} 2", _collector.Scrape());
    }

    [Fact]
    public async Task A_batch_on_a_connection_main_closed_while_idle_is_sent_once_more_on_a_fresh_one()
    {
        using var forwarder = NewForwarder(upstreamConnections: 1, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        // Main closes after answering the first, without saying so.
        HoldFirstUntil(gate, request => PathOf(request) == "/kvs/first" ? Echo(request) with { Close = true } : Echo(request));
        var (first, batch) = await FillOneLaneAsync(forwarder, count: 3);

        await ReleaseAsync(gate, first, batch);

        foreach (var (path, context, _) in batch)
            AssertAnswer(context, 200, Echoed(path));
        Assert.Equal(2, _dials);
        Assert.Equal(["/kvs/first", "/kvs/k0", "/kvs/k1", "/kvs/k2"], _main.Seen.Select(PathOf));
        Assert.True(_readiness.IsReady);
    }

    [Fact]
    public async Task Requests_queued_behind_a_batch_main_never_answers_get_503_at_their_bound_and_the_lane_serves_again()
    {
        // No pause after the timeouts, so the next batch goes through the same lane.
        using var forwarder = NewForwarder(TimeSpan.FromMilliseconds(300), upstreamConnections: 1,
            pipelineTiming: new(TimeSpan.FromSeconds(30), TimeSpan.Zero));
        var silent = true;
        _script = async (request, cancel) =>
        {
            if (Volatile.Read(ref silent))
                await Task.Delay(Timeout.Infinite, cancel);
            return Echo(request);
        };
        var started = System.Diagnostics.Stopwatch.StartNew();
        var (first, batch) = await FillOneLaneAsync(forwarder, count: 3);

        await first;
        await Task.WhenAll(batch.Select(b => b.Done));

        foreach (var (_, context, _) in batch)
            AssertAnswer(context, 503, Expected.CannotForward);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(3), $"took {started.Elapsed}");

        Volatile.Write(ref silent, false);
        var gate = new TaskCompletionSource();
        HoldFirstUntil(gate);
        var seenBefore = _main.Seen.Count;
        var (again, wave) = await FillOneLaneAsync(forwarder, count: 3, seenBefore: seenBefore);
        await ReleaseAsync(gate, again, wave);
        foreach (var (path, context, _) in wave)
            AssertAnswer(context, 200, Echoed(path));
        Assert.Contains(_main.Seen.Skip(seenBefore), s => s.Buffered); // pipelined again
    }

    [Fact]
    public async Task A_main_that_answers_a_batch_slowly_gets_requests_one_per_connection_again()
    {
        using var forwarder = NewForwarder(TimeSpan.FromSeconds(5), upstreamConnections: 1, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        _script = async (request, _) =>
        {
            if (PathOf(request) == "/kvs/first")
                await gate.Task;
            else
                await Task.Delay(20, CancellationToken.None); // far slower than a main answering from memory (and than any jitter)
            return Echo(request);
        };
        var (first, batch) = await FillOneLaneAsync(forwarder, count: 9);
        await ReleaseAsync(gate, first, batch);
        Assert.Contains(_main.Seen, s => s.Buffered); // that batch was pipelined

        var seenBefore = _main.Seen.Count;
        gate = new TaskCompletionSource();
        var (second, wave) = await FillOneLaneAsync(forwarder, count: 3, seenBefore: seenBefore);
        await ReleaseAsync(gate, second, wave);

        Assert.All(_main.Seen.Skip(seenBefore), s => Assert.False(s.Buffered)); // paused: each alone
    }
}
