using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AotKvs.Forwarding.Client;

namespace AotKvs.Forwarding.Pipelining;

/// <summary>
/// HTTP/1.1 pipelining to main over a few lanes. A request that finds a lane idle is sent at
/// once, alone; requests that arrive while every lane has something in flight gather behind
/// one and go together in one write, and main answers them in one pass. One write and one
/// read for many requests, on both sides, instead of one each: the forwarder and main both
/// spend less per request under load (docs/operations.md), and nothing waits without load.
/// </summary>
/// <remarks>
/// <para>Only to a main that echoes <see cref="Protocol.ExchangeTag"/>s (an AotKvs main): the
/// caller says so. Each answer must carry its own request's tag; one that does not fails its
/// request and every one after it (503), and the connection is dropped, never relayed.</para>
/// <para>A batch is run by <see cref="RunAsync"/>, not by its members: it reads every answer
/// in order within its own bound and hands each to its request. A member whose deadline
/// passes or whose client leaves stops waiting, and its answer is read and dropped, so one
/// member's failure never changes what another is told. A failure of the connection fails
/// the members not yet answered (main may have acted on them). Requests go again, on a fresh
/// connection, only when main provably read none of them: the whole batch once when its
/// first answer on a pooled connection fails before any byte, or the requests after an
/// answer that said Connection: close (and pipelining pauses: main closes connections).</para>
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

    /// <summary>Batches started inline one inside another at most this deep; deeper ones go to the thread pool.</summary>
    private const int MaxInlineRuns = 4;

    [ThreadStatic]
    private static int t_inlineRuns;

    private readonly PipelineLane[] _lanes;
    private readonly UpstreamPool _pool;
    private readonly SemaphoreSlim _permits;
    private readonly Action<int> _batchSent;
    private readonly SlowMainWatch _slowMain;
    private readonly DeadlinePool _bounds;
    private readonly TimeSpan _timeout;
    private int _nextLane;

    /// <param name="lanes">Batches in flight at once; 0 turns pipelining off.</param>
    /// <param name="maxBatch">Requests in one batch at most.</param>
    /// <param name="pool">Where a batch gets its connection to main, and returns it.</param>
    /// <param name="permits">The forwarder's connection permits: a batch in flight holds one.</param>
    /// <param name="batchSent">Called with the size of each batch sent, for the metrics.</param>
    /// <param name="bounds">A batch's own bound: the forwarding timeout from when its last member arrived.</param>
    /// <param name="timing">Instead of <see cref="Timing.Default"/>.</param>
    public UpstreamPipeline(int lanes, int maxBatch, UpstreamPool pool, SemaphoreSlim permits, Action<int> batchSent, DeadlinePool bounds, Timing? timing = null)
    {
        _timeout = bounds.Timeout;
        _batchSent = batchSent;
        timing ??= Timing.Default;
        var window = (long)(timing.JoinWindow.TotalSeconds * Stopwatch.Frequency);
        _slowMain = new SlowMainWatch(timing.Pause);
        _lanes = new PipelineLane[maxBatch > 1 ? lanes : 0];
        for (var i = 0; i < _lanes.Length; i++)
            _lanes[i] = new PipelineLane(maxBatch, window);
        _pool = pool;
        _permits = permits;
        _bounds = bounds;
    }

    /// <summary>
    /// Where a request to main goes. Returns the request in a batch when it joined one (its
    /// buffer, rented from the shared pool, is then the batch's). Otherwise it goes alone;
    /// <paramref name="lane"/> is the lane it took, to <see cref="Finish"/> once its answer
    /// is in, or null: pipelining off or paused, the request large, or every lane busy with a
    /// full or aging batch.
    /// </summary>
    public PipelinedRequest? TryEnter(byte[] buffer, int length, ulong tag, bool isHead, out PipelineLane? lane)
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
            // Stryker disable once Equality : among lanes equally loaded, either is the least loaded
            if (candidate.Waiting < fewest.Waiting)
                fewest = candidate;
        }
        var request = new PipelinedRequest(buffer, length, tag, isHead);
        return fewest.TryJoin(request) ? request : null;
    }

    /// <summary>What was in flight on <paramref name="lane"/> is done: the batch gathered behind it goes now.</summary>
    public void Finish(PipelineLane lane)
    {
        if (lane.Finish() is not { } next)
            return;
        if (t_inlineRuns >= MaxInlineRuns)
        {
            // Batches whose answers are all at hand finish inline: a chain of them would nest without end.
            // Stryker disable once Boolean : preferLocal only picks the thread-pool queue the batch waits in
            ThreadPool.UnsafeQueueUserWorkItem(static batch => Run(batch.Pipeline, batch.Batch), (Pipeline: this, Batch: next), preferLocal: true);
            return;
        }
        t_inlineRuns++;
        try
        {
            Run(this, next);
        }
        finally
        {
            t_inlineRuns--;
        }
    }

    private static void Run(UpstreamPipeline pipeline, PipelineBatch batch)
    {
        var running = pipeline.RunAsync(batch);
        if (running.IsCompletedSuccessfully)
            // Stryker disable once Statement : only hands the pooled state machine back (RunAsync never throws)
            running.GetAwaiter().GetResult(); // hands the pooled state machine back
        else
            _ = running.AsTask(); // it reports every outcome to its members itself
    }

    /// <summary>
    /// One batch from start to end: a permit, a connection, the bytes in one write, then every
    /// answer in order, each to its own request. Never throws: each member is told its outcome.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask RunAsync(PipelineBatch batch)
    {
        var lane = batch.Lane;
        var bound = _bounds.Rent();
        var holdsPermit = false;
        UpstreamConnection? connection = null;
        try
        {
            if (!batch.Seal())
                return; // everyone gave up before it went
            // The batch's bound ends with the last member's own deadline: after that nobody waits.
            var left = _timeout - Stopwatch.GetElapsedTime(batch.LastArrival);
            bound.CancelAfter(TimeSpan.FromTicks(Math.Max(left.Ticks, 0)));
            if (!_permits.Wait(0))
            {
                try
                {
                    await _permits.WaitAsync(Timeout.Infinite, bound.Token);
                }
                catch (OperationCanceledException e)
                {
                    FailFrom(batch, 0, new NoConnectionFreeException(e));
                    return;
                }
            }
            holdsPermit = true;

            var reused = true;
            connection = _pool.TakeIdle();
            if (connection is null)
            {
                reused = false;
                connection = await _pool.OpenAsync(bound.Token);
            }
            _batchSent(batch.Members.Count);
            try
            {
                await SendAsync(connection, batch, bound.Token);
            }
            catch (Exception e) when (reused && connection.FailedBeforeAnyAnswer(e, bound.Token))
            {
                reused = false;
                connection = await SendOnFreshAsync(connection, batch, bound.Token);
            }

            var lastAnswerAt = 0L;
            for (var i = 0; i < batch.Members.Count; i++)
            {
                var member = batch.Members[i];
                var isLast = i == batch.Members.Count - 1;
                if (member.HasGivenUp && batch.NobodyWaitsFrom(i))
                    return; // the connection, with answers unread on it, is closed below
                UpstreamAnswer answer = default; // assigned below unless a catch leaves the iteration
                try
                {
                    answer = await connection.ReadAnswerAsync(member.Tag, member.IsHead, isLast, bound.Token);
                }
                catch (Exception e) when (i == 0 && reused && connection.FailedBeforeAnyAnswer(e, bound.Token))
                {
                    // Main closed the pooled connection while it was idle and read none of the batch: once more, fresh.
                    reused = false;
                    connection = await SendOnFreshAsync(connection, batch, bound.Token);
                    i--;
                    continue;
                }
                catch (AnswerOverBudgetException e) when (e.InStep)
                {
                    member.Fail(e); // its answer alone was too large to hold; the connection is still in step
                    lastAnswerAt = NoteAnswer(i, lastAnswerAt);
                    continue; // after the last, the connection is closed below: its head said nothing of keep-alive to us
                }
                catch (Exception e)
                {
                    member.Fail(e);
                    FailFrom(batch, i + 1, e);
                    return;
                }
                lastAnswerAt = NoteAnswer(i, lastAnswerAt);
                if (isLast)
                {
                    // What the batch held goes back before the answer is relayed (inline, on this thread).
                    _pool.Return(connection, answer.Head.Close);
                    connection = null;
                    holdsPermit = false;
                    _permits.Release();
                    member.TryDeliver(answer);
                    break;
                }
                member.TryDeliver(answer);
                if (answer.Head.Close)
                {
                    // Main closes after this answer and reads nothing more: the rest were never
                    // acted on. They go again on a fresh connection, and pipelining pauses.
                    _slowMain.PauseNow();
                    var rest = batch.Rest(i + 1);
                    batch.ReleaseSent();
                    if (rest is null)
                        return; // the connection is closed below
                    batch = rest;
                    i = -1;
                    connection = await SendOnFreshAsync(connection, batch, bound.Token);
                }
            }
        }
        catch (Exception e)
        {
            // Dialling or sending failed: main may have read some of it.
            FailFrom(batch, 0, e);
        }
        finally
        {
            connection?.Dispose();
            batch.ReleaseSent();
            if (holdsPermit)
                _permits.Release();
            _bounds.Return(bound);
            Finish(lane);
        }
    }

    private static ValueTask SendAsync(UpstreamConnection connection, PipelineBatch batch, CancellationToken bound) =>
        connection.SendAsync(batch.Sent.AsMemory(0, batch.SentLength), default, batch.Members.Count, bound);

    /// <summary>
    /// Closes <paramref name="old"/> and sends the batch on a fresh connection, which it returns
    /// (main read nothing of it on the old one). A fresh one that fails is closed here.
    /// </summary>
    private async ValueTask<UpstreamConnection> SendOnFreshAsync(UpstreamConnection old, PipelineBatch batch, CancellationToken bound)
    {
        old.Dispose();
        var fresh = await _pool.OpenAsync(bound);
        try
        {
            await SendAsync(fresh, batch, bound);
            return fresh;
        }
        catch
        {
            fresh.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The batch cannot go on: members from <paramref name="first"/> on, not yet answered, fail.
    /// Each is told that the connection failed, not the cause of another member's failure.
    /// </summary>
    private static void FailFrom(PipelineBatch batch, int first, Exception failure)
    {
        var theirs = failure is NoConnectionFreeException or SocketException or HttpIOException
            ? failure
            : new HttpIOException(HttpRequestError.ResponseEnded, "the pipelined connection to main failed before this request's answer", failure);
        foreach (var member in CollectionsMarshal.AsSpan(batch.Members)[first..])
            member.Fail(theirs);
    }

    /// <summary>Notes when answer <paramref name="index"/> of a batch came, for the slow-main watch.</summary>
    private long NoteAnswer(int index, long previous)
    {
        var now = Stopwatch.GetTimestamp();
        if (index > 0)
            _slowMain.NoteGap(previous, now);
        return now;
    }

    /// <summary>
    /// The request's answer (or its failure) once its batch has read it, within its own
    /// <paramref name="deadline"/>. A request that runs out of time in a batch says main is
    /// slow: requests go one per connection for a while.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<UpstreamAnswer> ExchangeAsync(PipelinedRequest request, CancellationToken deadline)
    {
        try
        {
            return await request.WaitAsync(deadline);
        }
        catch (OperationCanceledException e) when (e is not NoConnectionFreeException && !request.ClientLeft && request.HasGivenUp)
        {
            _slowMain.PauseNow();
            throw;
        }
    }
}

/// <summary>No connection to main came free within the bound.</summary>
internal sealed class NoConnectionFreeException(Exception? inner) : OperationCanceledException("no connection to main came free within the bound", inner);
