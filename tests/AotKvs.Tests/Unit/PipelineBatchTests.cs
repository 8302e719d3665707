using System.Buffers;
using System.Diagnostics;
using System.Text;
using AotKvs.Forwarding.Client;
using AotKvs.Forwarding.Pipelining;
using AotKvs.Protocol;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The parts of a pipelined batch on their own: a lane that takes one request in flight and
/// gathers the next batch behind it, a batch that copies its members' bytes and drops those
/// that gave up, and a request whose wait ends with its answer, its failure or its giving up,
/// whichever comes first, and whose buffers go back to the shared pool exactly once.
/// </summary>
/// <remarks>
/// A buffer returned to the shared pool is the next one that pool hands out on the same
/// thread for that size: the tests that check a return run without an await between them.
/// </remarks>
[Trait("Category", "Unit")]
public sealed class PipelineBatchTests
{
    private static readonly long Forever = Stopwatch.Frequency * 3600;

    private static PipelinedRequest Request(string text, int rent = 0, ulong tag = 1, bool isHead = false) =>
        Request(text, out _, rent, tag, isHead);

    private static PipelinedRequest Request(string text, out byte[] buffer, int rent = 0, ulong tag = 1, bool isHead = false)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        buffer = ArrayPool<byte>.Shared.Rent(Math.Max(rent, bytes.Length));
        bytes.CopyTo(buffer, 0);
        return new PipelinedRequest(buffer, bytes.Length, tag, isHead);
    }

    private static PipelineBatch BatchOf(params PipelinedRequest[] members)
    {
        var batch = new PipelineBatch(new PipelineLane(8, Forever));
        foreach (var member in members)
            batch.Add(member);
        return batch;
    }

    /// <summary>The request stops waiting now (its deadline passed); what its wait ended with.</summary>
    private static Exception GiveUp(PipelinedRequest request)
    {
        var task = request.WaitAsync(new CancellationToken(canceled: true)).AsTask();
        Assert.True(request.HasGivenUp);
        return Assert.ThrowsAny<OperationCanceledException>(() => task.GetAwaiter().GetResult());
    }

    private static string SentText(PipelineBatch batch) => Encoding.ASCII.GetString(batch.Sent!, 0, batch.SentLength);

    private static UpstreamAnswer AnswerHolding(BufferBudget budget, string body)
    {
        var buffer = BudgetedBuffer.RentAnyway(budget, body.Length);
        Encoding.ASCII.GetBytes(body, buffer.Array);
        return new UpstreamAnswer(new AnswerHead { Status = 200 }, new AnswerBody(buffer, body.Length));
    }

    [Fact]
    public void A_lane_takes_one_in_flight_gathers_up_to_a_full_batch_behind_it_and_goes_idle_when_nothing_waits()
    {
        var lane = new PipelineLane(2, Forever);
        var (a, b, c) = (Request("a"), Request("b"), Request("c"));
        Assert.True(lane.IsIdle);
        Assert.False(lane.TryJoin(a)); // idle: whoever comes goes at once

        Assert.True(lane.TryTake());
        Assert.False(lane.IsIdle);
        Assert.False(lane.TryTake());
        Assert.Equal(0, lane.Waiting);
        Assert.True(lane.TryJoin(a));
        Assert.True(lane.TryJoin(b));
        Assert.Equal(2, lane.Waiting);
        Assert.False(lane.TryJoin(c)); // full
        Assert.Equal(2, lane.Waiting);

        var batch = lane.Finish();
        Assert.NotNull(batch);
        Assert.Same(lane, batch.Lane);
        Assert.Equal([a, b], batch.Members);
        Assert.Same(batch, a.Batch);
        Assert.False(batch.IsSent);
        Assert.False(lane.IsIdle); // that batch is in flight now
        Assert.Equal(0, lane.Waiting);
        Assert.True(lane.TryJoin(c)); // behind it, in a batch of its own
        Assert.NotSame(batch, c.Batch);

        Assert.Same(c.Batch, lane.Finish());
        Assert.Null(lane.Finish());
        Assert.True(lane.IsIdle);
        Assert.True(lane.TryTake());
    }

    [Fact]
    public void A_lane_refuses_joiners_once_what_is_in_flight_is_older_than_its_window_and_the_window_starts_again_with_each_batch()
    {
        var window = Stopwatch.Frequency / 5; // 200 ms
        var lane = new PipelineLane(8, window);
        Assert.True(lane.TryTake());
        Assert.True(lane.TryJoin(Request("a")));
        SpinWait.SpinUntil(() => false, TimeSpan.FromMilliseconds(300));
        Assert.False(lane.TryJoin(Request("b"))); // the one in flight is aging: main is slow

        Assert.NotNull(lane.Finish()); // the gathered batch goes now: young again
        Assert.True(lane.TryJoin(Request("c")));

        var never = new PipelineLane(8, -1);
        Assert.True(never.TryTake());
        Assert.False(never.TryJoin(Request("d")));
    }

    [Fact]
    public void Sealing_copies_the_members_that_still_wait_back_to_back_and_drops_the_others()
    {
        var (a, gone, c) = (Request("GET /a\r\n\r\n"), Request("GET /gone" + new string('g', 5000) + "\r\n\r\n"), Request("GET /c\r\n\r\n"));
        var batch = BatchOf(a, gone, c);
        Assert.IsType<NoConnectionFreeException>(GiveUp(gone)); // not sent yet: it never had a connection

        Assert.True(batch.Seal());

        Assert.True(batch.IsSent);
        Assert.Equal([a, c], batch.Members);
        Assert.Equal("GET /a\r\n\r\nGET /c\r\n\r\n", SentText(batch));
        Assert.Equal((0, 10), (a.Offset, c.Offset));
        Assert.True(batch.Sent!.Length < 64, $"a copy of {batch.Sent.Length} bytes for 20"); // nothing held for the one that gave up
        var late = Request("x");
        batch.Add(late);
        var timedOut = GiveUp(late);
        Assert.IsNotType<NoConnectionFreeException>(timedOut); // sent: its answer did not come in time
        Assert.Contains("did not come within the bound", timedOut.Message);
    }

    [Fact]
    public void A_batch_whose_members_all_gave_up_seals_empty()
    {
        var (a, b) = (Request("a"), Request("b"));
        var batch = BatchOf(a, b);
        GiveUp(a);
        GiveUp(b);

        Assert.False(batch.Seal());

        Assert.Empty(batch.Members);
        Assert.Equal(0, batch.SentLength);
        Assert.NotNull(batch.Sent);
    }

    [Fact]
    public void Sealing_gives_every_members_buffer_back_to_the_pool_once()
    {
        var kept = Request("kept", out var keptBuffer, rent: 5000); // a buffer of 8 KiB
        var gone = Request("gone", out var goneBuffer, rent: 3000); // one of 4 KiB
        var batch = BatchOf(kept, gone);
        GiveUp(gone);

        batch.Seal();
        kept.ReleaseBuffer(); // again: nothing more goes back

        Assert.Same(keptBuffer, ArrayPool<byte>.Shared.Rent(5000));
        Assert.Same(goneBuffer, ArrayPool<byte>.Shared.Rent(3000));
        Assert.NotSame(keptBuffer, ArrayPool<byte>.Shared.Rent(5000));
    }

    [Fact]
    public void The_copy_of_the_bytes_goes_back_to_the_pool_once()
    {
        var batch = BatchOf(Request(new string('s', 1500)));
        batch.Seal();
        var sent = batch.Sent!;

        batch.ReleaseSent();
        batch.ReleaseSent();

        Assert.Null(batch.Sent);
        Assert.Same(sent, ArrayPool<byte>.Shared.Rent(1500));
        Assert.NotSame(sent, ArrayPool<byte>.Shared.Rent(1500));
    }

    [Fact]
    public void The_rest_of_a_batch_is_those_from_a_member_on_that_still_wait_in_a_sealed_batch_of_their_own()
    {
        var (a, b, gone, d) = (Request("aa"), Request("bbb"), Request("gone"), Request("dddd"));
        var batch = BatchOf(a, b, gone, d);
        batch.Seal();
        GiveUp(gone); // after it was sent

        var rest = batch.Rest(1);

        Assert.NotNull(rest);
        Assert.True(rest.IsSent);
        Assert.Same(batch.Lane, rest.Lane);
        Assert.Equal([b, d], rest.Members);
        Assert.Same(rest, b.Batch);
        Assert.Equal("bbbdddd", SentText(rest));
        Assert.Equal((0, 3), (b.Offset, d.Offset));
        Assert.Equal("aabbbgonedddd", SentText(batch)); // the batch's own copy is untouched
        Assert.Equal("dddd", SentText(rest.Rest(1)!));
    }

    [Fact]
    public void There_is_no_rest_when_nobody_after_the_member_waits()
    {
        var (a, b, c) = (Request("a"), Request("b"), Request("c"));
        var batch = BatchOf(a, b, c);
        batch.Seal();
        GiveUp(b);
        GiveUp(c);

        Assert.Null(batch.Rest(1));
        Assert.Null(batch.Rest(3));
        Assert.NotNull(batch.Rest(0));
    }

    [Fact]
    public void Nobody_waits_from_a_member_on_only_when_every_one_from_there_gave_up()
    {
        var (a, b, c) = (Request("a"), Request("b"), Request("c"));
        var batch = BatchOf(a, b, c);
        batch.Seal();
        GiveUp(b);

        Assert.False(batch.NobodyWaitsFrom(0));
        Assert.False(batch.NobodyWaitsFrom(1));
        Assert.False(batch.NobodyWaitsFrom(2));
        GiveUp(c);
        Assert.True(batch.NobodyWaitsFrom(1));
        Assert.True(batch.NobodyWaitsFrom(2));
        Assert.True(batch.NobodyWaitsFrom(3));
        Assert.False(batch.NobodyWaitsFrom(0));
    }

    [Fact]
    public void A_batch_arrived_when_its_latest_member_did()
    {
        var early = Request("a");
        SpinWait.SpinUntil(() => Stopwatch.GetTimestamp() > early.Arrived);
        var late = Request("b");
        var batch = BatchOf(late, early);

        Assert.Equal(late.Arrived, batch.LastArrival);
        Assert.Equal(0, BatchOf().LastArrival);
    }

    [Fact]
    public async Task A_request_gets_the_first_outcome_only_and_an_answer_nobody_takes_is_given_back()
    {
        var budget = new BufferBudget(1 << 20);
        var request = Request("a");
        BatchOf(request).Seal();
        var waiting = request.WaitAsync(CancellationToken.None).AsTask();

        Assert.True(request.TryDeliver(AnswerHolding(budget, "first")));
        request.Fail(new InvalidOperationException("too late"));
        Assert.False(request.TryDeliver(AnswerHolding(budget, "second")));

        var answer = await waiting;
        Assert.Equal("first", Encoding.ASCII.GetString(answer.Body.Memory.Span));
        Assert.Equal(5, budget.InUse); // the second, dropped, is given back
        Assert.False(request.HasGivenUp);
        answer.Body.Dispose();
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task A_request_that_failed_keeps_its_failure()
    {
        var budget = new BufferBudget(1 << 20);
        var request = Request("a");
        BatchOf(request).Seal();
        var waiting = request.WaitAsync(CancellationToken.None).AsTask();

        var failure = new HttpIOException(HttpRequestError.ResponseEnded);
        request.Fail(failure);
        request.Fail(new InvalidOperationException("second"));
        request.OnClientLeft();

        Assert.Same(failure, await Assert.ThrowsAsync<HttpIOException>(() => waiting));
        Assert.False(request.TryDeliver(AnswerHolding(budget, "late")));
        Assert.Equal(0, budget.InUse);
        Assert.False(request.HasGivenUp);
    }

    [Fact]
    public async Task A_request_whose_client_left_stops_waiting_and_its_answer_is_given_back()
    {
        var budget = new BufferBudget(1 << 20);
        var request = Request("a");
        BatchOf(request).Seal();
        var waiting = request.WaitAsync(CancellationToken.None).AsTask();

        request.OnClientLeft();

        Assert.True(request.ClientLeft);
        Assert.True(request.HasGivenUp);
        var left = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.IsNotType<NoConnectionFreeException>(left);
        Assert.Contains("the client left", left.Message);
        Assert.False(request.TryDeliver(AnswerHolding(budget, "late")));
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task A_request_keeps_what_it_was_given()
    {
        var request = Request("GET /a\r\n\r\n", tag: 0x2a, isHead: true);
        var other = Request("GET /b\r\n\r\n", tag: 7);
        BatchOf(request, other);

        Assert.Equal((0x2aUL, true, 10), (request.Tag, request.IsHead, request.Length));
        Assert.Equal((7UL, false), (other.Tag, other.IsHead));
        Assert.Equal("GET /a\r\n\r\n", Encoding.ASCII.GetString(request.Bytes));
        Assert.False(request.ClientLeft);
        var deadline = new CancellationTokenSource();
        var waiting = request.WaitAsync(deadline.Token).AsTask();
        Assert.False(waiting.IsCompleted);
        await deadline.CancelAsync();
        await Assert.ThrowsAsync<NoConnectionFreeException>(() => waiting);
    }
}
