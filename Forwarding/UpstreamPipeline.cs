using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace AotKvs.Forwarding;

/// <summary>
/// HTTP/1.1 pipelining to main over a few lanes. A request that finds a lane idle is sent at
/// once, alone; requests that arrive while every lane has something in flight gather behind
/// one and go together in one write, and main answers them in one pass. One write and one
/// read for many requests, on both sides, instead of one each: the forwarder and main both
/// spend less per request under load (docs/operations.md), and nothing waits without load.
/// </summary>
/// <remarks>
/// <para>Each request reads its own answer with its own deadline, then hands the connection
/// to the next (<see cref="PipelinedRequest"/>). A batch that fails before a request's answer
/// fails that request the same way (the usual 503): main may have acted on it. Requests go
/// again, on a fresh connection, only when main provably read none of them: the first answer
/// of a batch on a pooled connection failing before any byte (the whole batch, once, as a
/// lone request would be), or the requests after an answer that said Connection: close.</para>
/// <para>Main answers a pipelined batch one request after another: when it is slow per
/// request, <see cref="SlowMainWatch"/> pauses pipelining.</para>
/// </remarks>
internal sealed class UpstreamPipeline
{
    /// <summary>Requests larger than this (a big PUT body) go alone: no copy, and no one waits behind them.</summary>
    public const int MaxRequestBytes = 16 * 1024;

    /// <summary>
    /// <paramref name="JoinWindow"/>: a request joins the next batch only while the one in
    /// flight is younger than this; a quick main on a busy CPU answers well within it, a slow
    /// one does not. <paramref name="Pause"/>: how long requests go one per connection once
    /// main has shown itself slow.
    /// </summary>
    public sealed record Timing(TimeSpan JoinWindow, TimeSpan Pause)
    {
        public static readonly Timing Default = new(TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(5));
    }

    private readonly PipelineLane[] _lanes;
    private readonly UpstreamPool _pool;
    private readonly SemaphoreSlim _permits;
    private readonly UpstreamReport _report;
    private readonly SlowMainWatch _slowMain;
    private int _nextLane;

    /// <param name="lanes">Batches in flight at once; 0 turns pipelining off.</param>
    /// <param name="maxBatch">Requests in one batch at most.</param>
    /// <param name="pool">Where a batch gets its connection to main, and returns it.</param>
    /// <param name="permits">The forwarder's connection permits: a batch in flight holds one.</param>
    /// <param name="report">Where the batches sent are counted.</param>
    /// <param name="timing">Instead of <see cref="Timing.Default"/>.</param>
    public UpstreamPipeline(int lanes, int maxBatch, UpstreamPool pool, SemaphoreSlim permits, UpstreamReport report, Timing? timing = null)
    {
        _report = report;
        timing ??= Timing.Default;
        var window = (long)(timing.JoinWindow.TotalSeconds * Stopwatch.Frequency);
        _slowMain = new SlowMainWatch(timing.Pause);
        _lanes = new PipelineLane[maxBatch > 1 ? lanes : 0];
        for (var i = 0; i < _lanes.Length; i++)
            _lanes[i] = new PipelineLane(maxBatch, window);
        _pool = pool;
        _permits = permits;
    }

    /// <summary>
    /// Where a request to main goes. Returns the request in a batch when it joined one (its
    /// buffer, rented from the shared pool, is then the pipeline's). Otherwise it goes alone;
    /// <paramref name="lane"/> is the lane it took, to <see cref="PipelineLane.Finish"/> once
    /// its answer is in, or null: pipelining off or paused, the request large, or every lane
    /// busy with a full or aging batch.
    /// </summary>
    public PipelinedRequest? TryEnter(byte[] buffer, int length, bool isHead, CancellationTokenSource deadline, out PipelineLane? lane)
    {
        lane = null;
        if (_lanes.Length == 0 || length > MaxRequestBytes || _slowMain.IsPaused)
            return null;
        var start = (int)((uint)Interlocked.Increment(ref _nextLane) % (uint)_lanes.Length);
        var fewest = _lanes[start];
        for (var i = 0; i < _lanes.Length; i++)
        {
            var candidate = _lanes[(start + i) % _lanes.Length];
            if (candidate.IsIdle && candidate.TryTake())
            {
                lane = candidate;
                return null;
            }
            if (candidate.Waiting < fewest.Waiting)
                fewest = candidate;
        }
        var request = new PipelinedRequest(buffer, length, isHead, deadline);
        return fewest.TryJoin(request) ? request : null;
    }

    /// <summary>Main's whole answer to <paramref name="request"/>, within <paramref name="deadline"/>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<UpstreamAnswer> ExchangeAsync(PipelinedRequest request, CancellationToken deadline)
    {
        try
        {
            if (await request.WaitAsync() == PipelineTurn.Send)
                await SendAsync(request.Batch.Rest(0), deadline);
            return await ReadAsync(request, deadline);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !request.ClientLeft)
        {
            // A request that ran out of time in a batch says main is slow: requests go one per connection for a while.
            _slowMain.PauseNow();
            throw;
        }
    }

    /// <summary>The caller is the batch's first member: a connection, then the whole batch in one write.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendAsync(PipelineBatch batch, CancellationToken deadline)
    {
        batch.IsSent = true;
        try
        {
            if (!_permits.Wait(0))
            {
                try
                {
                    await _permits.WaitAsync(Timeout.Infinite, deadline);
                }
                catch (OperationCanceledException e)
                {
                    throw new NoConnectionFreeException(e);
                }
            }
            batch.HoldsPermit = true;

            var length = 0;
            foreach (var member in batch.Members)
                length += member.Length;
            batch.Sent = ArrayPool<byte>.Shared.Rent(length);
            batch.SentLength = length;
            var at = 0;
            foreach (var member in batch.Members)
            {
                member.Bytes.CopyTo(batch.Sent.AsSpan(at));
                at += member.Length;
            }

            batch.Connection = _pool.TakeIdle();
            batch.Reused = batch.Connection is not null;
            if (batch.Connection is null)
                batch.Connection = await _pool.OpenAsync(deadline);
            _report.SentBatch(batch.Members.Count);
            try
            {
                await batch.Connection.SendAsync(batch.Sent.AsMemory(0, length), deadline);
            }
            catch (Exception e) when (IsStale(batch, e, deadline))
            {
                await ResendAsync(batch, deadline);
            }
        }
        catch (Exception e)
        {
            FailFrom(batch, 1, e);
            throw;
        }
    }

    /// <summary>The caller's turn: its own answer, then the connection goes to the next member.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<UpstreamAnswer> ReadAsync(PipelinedRequest request, CancellationToken deadline)
    {
        var batch = request.Batch;
        var isLast = request.Index == batch.Members.Count - 1;
        UpstreamAnswer answer;
        try
        {
            try
            {
                answer = await batch.Connection!.ReadAnswerAsync(request.IsHead, isLast, deadline);
            }
            catch (Exception e) when (request.Index == 0 && IsStale(batch, e, deadline))
            {
                await ResendAsync(batch, deadline);
                answer = await batch.Connection!.ReadAnswerAsync(request.IsHead, isLast, deadline);
            }
        }
        catch (Exception e)
        {
            FailFrom(batch, request.Index + 1, e);
            throw;
        }

        NoteAnswer(batch, request.Index);
        var connection = batch.Connection;
        if (isLast)
        {
            batch.Connection = null;
            _pool.Return(connection, answer.Head.Close);
            Done(batch);
        }
        else if (answer.Head.Close)
        {
            // Main closes after this answer and reads nothing more: the rest were never acted on.
            batch.Connection = null;
            connection.Dispose();
            Release(batch);
            if (!batch.Rest(request.Index + 1).Start())
                batch.Lane.Finish();
        }
        else if (!batch.Members[request.Index + 1].TrySignal(PipelineTurn.Read))
        {
            // The next one gave up waiting: nobody reads its answer, so the connection is out of step.
            var next = batch.Members[request.Index + 1];
            next.ReleaseBuffer();
            FailFrom(batch, request.Index + 2, new OperationCanceledException("a request ahead on the pipelined connection to main gave up"));
        }
        return answer;
    }

    /// <summary>A pooled connection that failed before any answer byte was most likely closed by main while idle.</summary>
    private static bool IsStale(PipelineBatch batch, Exception e, CancellationToken deadline) =>
        batch.Reused && !batch.Connection!.ReceivedAny && e is SocketException or HttpIOException && !deadline.IsCancellationRequested;

    /// <summary>The whole batch once more, on a fresh connection (never a third time).</summary>
    private async ValueTask ResendAsync(PipelineBatch batch, CancellationToken deadline)
    {
        batch.Connection!.Dispose();
        batch.Connection = null;
        batch.Reused = false;
        batch.Connection = await _pool.OpenAsync(deadline);
        await batch.Connection.SendAsync(batch.Sent.AsMemory(0, batch.SentLength), deadline);
    }

    /// <summary>The batch cannot go on: members from <paramref name="first"/> fail with <paramref name="failure"/>.</summary>
    private void FailFrom(PipelineBatch batch, int first, Exception failure)
    {
        batch.Connection?.Dispose();
        batch.Connection = null;
        for (var i = first; i < batch.Members.Count; i++)
        {
            var member = batch.Members[i];
            if (member.HasGivenUp)
                member.ReleaseBuffer();
            else
                member.Fail(failure);
        }
        Done(batch);
    }

    /// <summary>The batch is over: what it held is let go, and the lane takes its next batch.</summary>
    private void Done(PipelineBatch batch)
    {
        Release(batch);
        batch.Lane.Finish();
    }

    /// <summary>Lets go of the batch's connection permit and its copy of the bytes sent.</summary>
    private void Release(PipelineBatch batch)
    {
        if (batch.HoldsPermit)
        {
            batch.HoldsPermit = false;
            _permits.Release();
        }
        if (batch.Sent is { } sent)
        {
            batch.Sent = null;
            ArrayPool<byte>.Shared.Return(sent);
        }
    }

    /// <summary>Notes when an answer in a batch came, for the slow-main watch.</summary>
    private void NoteAnswer(PipelineBatch batch, int index)
    {
        var now = Stopwatch.GetTimestamp();
        if (index > 0)
            _slowMain.NoteGap(batch.LastAnswerAt, now);
        batch.LastAnswerAt = now;
    }
}

/// <summary>No connection to main came free within the bound.</summary>
internal sealed class NoConnectionFreeException(Exception? inner) : OperationCanceledException("no connection to main came free within the bound", inner);
