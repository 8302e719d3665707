using System.Buffers;
using System.Net.Sockets;
using AotKvs.Forwarding.Client;
using AotKvs.Forwarding.Pipelining;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// Which requests the pipeline takes and where they go: none when it is off, paused or the
/// request is large; a lane that is idle is taken, a busy one gathers, the least loaded
/// first; and when pipelining pauses for a slow or silent main and when it does not.
/// </summary>
public sealed partial class UpstreamPipelineTests
{
    /// <summary>Whether a request now would go alone on no lane (pipelining off or paused).</summary>
    private bool Paused()
    {
        var request = Enter(999, out var lane);
        if (lane is not null)
            _pipeline.Finish(lane);
        return request is null && lane is null;
    }

    private PipelinedRequest? EnterOfLength(int length, out PipelineLane? lane)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        var request = _pipeline.TryEnter(buffer, length, 7, false, out lane);
        if (request is null)
            ArrayPool<byte>.Shared.Return(buffer);
        return request;
    }

    [Fact]
    public void With_batches_of_one_there_is_no_pipelining()
    {
        NewPipeline(maxBatch: 1);
        Assert.True(Paused());
    }

    [Fact]
    public void With_no_lanes_there_is_no_pipelining()
    {
        NewPipeline(lanes: 0);
        Assert.True(Paused());
    }

    [Fact]
    public void A_request_larger_than_the_bound_goes_alone_and_one_at_the_bound_may_take_a_lane()
    {
        NewPipeline();
        Assert.Null(EnterOfLength(UpstreamPipeline.MaxRequestBytes + 1, out var none));
        Assert.Null(none);

        Assert.Null(EnterOfLength(UpstreamPipeline.MaxRequestBytes, out var lane));
        Assert.NotNull(lane);
        Assert.NotNull(EnterOfLength(UpstreamPipeline.MaxRequestBytes, out var behind));
        Assert.Null(behind);
        Assert.Null(EnterOfLength(UpstreamPipeline.MaxRequestBytes + 1, out _)); // even with a lane busy
    }

    [Fact]
    public void A_request_that_finds_the_batch_full_goes_alone()
    {
        NewPipeline(maxBatch: 2);
        var (lane, _) = Gather(1, 2);

        Assert.Null(Enter(3, out var none));
        Assert.Null(none);
        Assert.Equal(2, lane.Waiting);
    }

    [Fact]
    public void Idle_lanes_are_taken_first_and_then_requests_gather_behind_the_least_loaded()
    {
        NewPipeline(lanes: 2);
        Assert.Null(Enter(1, out var first));
        Assert.Null(Enter(2, out var second));
        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.NotSame(first, second);
        for (ulong tag = 3; tag <= 5; tag++)
            Assert.True(first.TryJoin(new PipelinedRequest(ArrayPool<byte>.Shared.Rent(8), 8, tag, false)));

        for (ulong tag = 6; tag <= 8; tag++)
            Assert.NotNull(Enter(tag, out _));

        Assert.Equal(3, first.Waiting);
        Assert.Equal(3, second.Waiting); // the newcomers all went behind the quieter lane
    }

    [Fact]
    public async Task A_member_that_runs_out_of_time_pauses_pipelining_and_one_whose_client_left_does_not()
    {
        NewPipeline();
        var (lane, members) = Gather(1, 2, 3);
        var timeout = new CancellationTokenSource();
        var answers = new[] { Exchange(members[0], Deadline()), Exchange(members[1], Deadline()), Exchange(members[2], timeout.Token) };
        _pipeline.Finish(lane);
        var main = Main(0);
        await main.ReadAsync(3);

        members[1].OnClientLeft();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => answers[1]);
        Assert.False(Paused());

        await timeout.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => answers[2]);
        Assert.True(Paused());
        await main.AnswerAsync(1, 2, 3);
        Assert.Equal("v1", BodyOf(await answers[0]));
    }

    [Fact]
    public async Task A_batch_that_ran_out_of_its_own_bound_does_not_pause_pipelining()
    {
        NewPipeline(timeout: TimeSpan.FromSeconds(1));
        var (lane, members) = Gather(1);
        var answer = Exchange(members[0], Deadline());
        _pipeline.Finish(lane); // main never answers

        await Assert.ThrowsAnyAsync<Exception>(() => answer);
        Assert.True(PermitsAllBack());
        Assert.False(Paused());
    }

    [Fact]
    public async Task Answers_far_apart_in_a_batch_pause_pipelining_and_quick_ones_do_not()
    {
        NewPipeline();
        var (lane, members) = Gather(1, 2, 3, 4, 5, 6);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();
        _pipeline.Finish(lane);
        var main = Main(0);
        await main.ReadAsync(6);
        await main.AnswerAsync(1, 2); // one quick gap
        for (ulong tag = 3; tag <= 6; tag++)
        {
            await Task.Delay(20); // far slower than a quick main
            await main.AnswerAsync(tag);
        }
        await Task.WhenAll(answers);
        Assert.True(PermitsAllBack());

        Assert.True(Paused());
    }

    [Fact]
    public async Task Many_quick_single_batches_never_pause_pipelining()
    {
        NewPipeline();
        for (ulong tag = 1; tag <= 6; tag++)
        {
            var (lane, members) = Gather(tag);
            var answer = Exchange(members[0], Deadline());
            _pipeline.Finish(lane);
            var main = Main(0);
            await main.ReadAsync(1);
            await main.AnswerAsync(tag);
            Assert.Equal($"v{tag}", BodyOf(await answer));
            Assert.True(Poll.Until(() => lane.IsIdle, Bound));
        }
        Assert.False(Paused());
        Assert.Equal(1, Dials);
    }

    [Fact]
    public async Task A_batch_bound_runs_from_when_its_last_member_arrived_not_from_when_it_went()
    {
        NewPipeline(timeout: TimeSpan.FromSeconds(3));
        var (lane, members) = Gather(1);
        var answer = Exchange(members[0], Deadline());
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // the lane is busy that long

        var clock = System.Diagnostics.Stopwatch.StartNew();
        _pipeline.Finish(lane); // main never answers

        await Assert.ThrowsAnyAsync<Exception>(() => answer);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2.5), $"the batch ran {clock.Elapsed} after it went");
    }

    [Theory]
    [InlineData(false)] // main closed with a FIN: the read finds the end
    [InlineData(true)]  // with a reset: the write fails
    public async Task A_batch_sent_again_after_a_stale_connection_is_never_sent_a_third_time(bool reset)
    {
        NewPipeline(timeout: TimeSpan.FromSeconds(3));
        var stale = await _pool.OpenAsync(Deadline());
        _pool.Return(stale, close: false);
        if (reset)
            Main(0).Socket.LingerState = new LingerOption(true, 0);
        Main(0).Socket.Close();
        await Task.Delay(50); // the end or the reset reaches our side
        var (lane, members) = Gather(1, 2);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();

        _pipeline.Finish(lane);
        var fresh = Main(1);
        Assert.Equal([1UL, 2], await fresh.ReadAsync(2));
        fresh.Socket.Close(); // main read them, may have acted, and is gone

        foreach (var answer in answers)
            await Assert.ThrowsAsync<HttpIOException>(() => answer);
        Assert.Equal(2, Dials);
        Assert.True(PermitsAllBack());
    }

    [Fact]
    public async Task An_answer_over_the_budget_fails_its_member_alone_and_the_connection_stays_in_step()
    {
        NewPipeline();
        _budget.ReserveAnyway((1 << 20) - 100); // little room left
        var (lane, members) = Gather(1, 2, 3);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();
        _pipeline.Finish(lane);
        var main = Main(0);
        await main.ReadAsync(3);
        await main.WriteAsync(AnswerTo(1) + AnswerTo(2, body: new string('x', 10_000)) + AnswerTo(3));

        Assert.Equal("v1", BodyOf(await answers[0]));
        Assert.True((await Assert.ThrowsAsync<AnswerOverBudgetException>(() => answers[1])).InStep);
        Assert.Equal("v3", BodyOf(await answers[2]));
        Assert.True(PermitsAllBack());
        Assert.True(main.StillOpen());
        Assert.NotNull(_pool.TakeIdle());
        (await answers[0]).Body.Dispose();
        (await answers[2]).Body.Dispose();
        Assert.Equal((1 << 20) - 100, _budget.InUse);
    }

    [Fact]
    public async Task An_over_budget_last_answer_leaves_the_connection_closed_not_pooled()
    {
        NewPipeline();
        _budget.ReserveAnyway((1 << 20) - 100);
        var (lane, members) = Gather(1, 2);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();
        _pipeline.Finish(lane);
        var main = Main(0);
        await main.ReadAsync(2);
        await main.WriteAsync(AnswerTo(1) + AnswerTo(2, body: new string('x', 10_000)));

        Assert.Equal("v1", BodyOf(await answers[0]));
        await Assert.ThrowsAsync<AnswerOverBudgetException>(() => answers[1]);
        Assert.True(PermitsAllBack());
        Assert.True(main.ClosedByForwarder());
        Assert.True(Poll.Until(() => lane.IsIdle, Bound));
        Assert.Null(_pool.TakeIdle());
    }
}

public sealed partial class UpstreamPipelineTests
{
    [Fact]
    public async Task When_the_first_answer_is_not_tied_to_its_request_every_other_member_is_told_the_connection_failed()
    {
        NewPipeline();
        var (lane, members) = Gather(1, 2, 3);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();

        _pipeline.Finish(lane);
        var main = Main(0);
        await main.ReadAsync(3);
        await main.AnswerAsync(2, 1, 3);

        var own = await Assert.ThrowsAsync<HttpRequestException>(() => answers[0]);
        foreach (var other in answers.Skip(1))
            Assert.Same(own, (await Assert.ThrowsAsync<HttpIOException>(() => other)).InnerException);
        Assert.True(PermitsAllBack());
    }

    [Fact]
    public async Task A_slow_answer_over_the_budget_counts_as_an_answer_for_the_gaps_after_it()
    {
        NewPipeline(maxBatch: 16);
        _budget.ReserveAnyway((1 << 20) - 100);
        var tags = new ulong[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
        var (lane, members) = Gather(tags);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();
        _pipeline.Finish(lane);
        var main = Main(0);
        await main.ReadAsync(tags.Length);

        // Each slow answer is one main could not be held to: the answer after it comes at once.
        await main.AnswerAsync(1);
        for (ulong tag = 2; tag <= 8; tag += 2)
        {
            await Task.Delay(20);
            await main.WriteAsync(AnswerTo(tag, body: new string('x', 10_000)) + AnswerTo(tag + 1));
        }
        await Task.WhenAll(answers.Where((_, i) => i % 2 == 0));

        Assert.False(Paused()); // four slow gaps among four quick ones
    }

    [Theory]
    [InlineData(false)] // the batch's first connection, fresh: main may have read some of it
    [InlineData(true)]  // the fresh one after a stale pooled connection: it is never tried a third time
    public async Task A_fresh_connection_that_cannot_take_a_batch_is_closed_and_every_member_fails(bool afterStale)
    {
        var broken = afterStale ? 2 : 1;
        Socket? fresh = null;
        NewPipeline(dial: async cancel =>
        {
            var socket = await DialAsync(cancel);
            if (Dials == broken)
            {
                socket.Shutdown(SocketShutdown.Send); // sending on it fails at once
                fresh = socket;
            }
            return socket;
        });
        if (afterStale)
        {
            var stale = await _pool.OpenAsync(Deadline());
            _pool.Return(stale, close: false);
            Main(0).Socket.Close(); // main closes it while idle, without a byte
        }
        var (lane, members) = Gather(1, 2);
        var answers = members.Select(m => Exchange(m, Deadline())).ToList();

        _pipeline.Finish(lane);

        foreach (var answer in answers)
            await Assert.ThrowsAsync<SocketException>(() => answer);
        Assert.Equal(broken, Dials);
        Assert.NotNull(fresh);
        Assert.Throws<ObjectDisposedException>(() => fresh.Available);
        Assert.True(PermitsAllBack());
        Assert.True(Poll.Until(() => lane.IsIdle, Bound));
        Assert.Null(_pool.TakeIdle());
    }
}
