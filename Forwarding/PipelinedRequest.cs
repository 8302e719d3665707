using System.Buffers;
using System.Threading.Tasks.Sources;

namespace AotKvs.Forwarding;

/// <summary>What a pipelined request is told to do when its turn comes.</summary>
internal enum PipelineTurn
{
    /// <summary>First of its batch: get a connection and send the whole batch.</summary>
    Send,

    /// <summary>The answers before its own have been read: read its own next.</summary>
    Read,
}

/// <summary>
/// One forwarded request in a <see cref="PipelineBatch"/>. It waits for its turn (see
/// <see cref="PipelineTurn"/>) until its own deadline; a failure of the batch before its
/// answer is handed to it as an exception instead.
/// </summary>
/// <remarks>
/// Turns are handed on inline (continuations run synchronously), like the socket completion
/// that caused them: a thread hop per request would cost more than the batching saves.
/// </remarks>
internal sealed class PipelinedRequest : IValueTaskSource<PipelineTurn>
{
    private const int Waiting = 0, Signalled = 1, GaveUp = 2;

    private ManualResetValueTaskSourceCore<PipelineTurn> _turn;
    private int _state;
    private CancellationTokenRegistration _deadline;
    private byte[]? _buffer;

    private readonly CancellationTokenSource _deadlineSource;

    /// <summary>
    /// Takes over <paramref name="buffer"/> (rented from the shared pool), returned by
    /// <see cref="ReleaseBuffer"/> once the request is done with or dropped.
    /// <paramref name="deadline"/> ends the wait, and is what a client that leaves cancels.
    /// </summary>
    public PipelinedRequest(byte[] buffer, int length, bool isHead, CancellationTokenSource deadline)
    {
        _deadlineSource = deadline;
        _buffer = buffer;
        Length = length;
        IsHead = isHead;
    }

    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(0, Length);
    public int Length { get; }
    public bool IsHead { get; }

    /// <summary>The batch it is in, and its place among the batch's answers.</summary>
    public PipelineBatch Batch { get; set; } = null!;
    public int Index { get; set; }

    /// <summary>Its deadline passed before its turn came: its answer, if main sends one, has nobody to read it.</summary>
    public bool HasGivenUp => Volatile.Read(ref _state) == GaveUp;

    /// <summary>Waits for the turn; at its deadline, gives up with <see cref="OperationCanceledException"/>.</summary>
    public ValueTask<PipelineTurn> WaitAsync()
    {
        _deadline = _deadlineSource.Token.UnsafeRegister(static request => ((PipelinedRequest)request!).GiveUp(), this);
        return new ValueTask<PipelineTurn>(this, _turn.Version);
    }

    /// <summary>Hands the turn over; false when the request has given up (or was already told).</summary>
    public bool TrySignal(PipelineTurn turn)
    {
        if (Interlocked.CompareExchange(ref _state, Signalled, Waiting) != Waiting)
            return false;
        TurnTrampoline.Run(this, turn, null);
        return true;
    }

    /// <summary>The batch failed before this request's answer: it fails the same way.</summary>
    public void Fail(Exception failure)
    {
        if (Interlocked.CompareExchange(ref _state, Signalled, Waiting) == Waiting)
            TurnTrampoline.Run(this, default, failure);
    }

    private void Complete(PipelineTurn turn, Exception? failure)
    {
        if (failure is null)
            _turn.SetResult(turn);
        else
            _turn.SetException(failure);
    }

    /// <summary>
    /// Turns run inline, on the thread that hands them over. A request whose turn comes hands
    /// the next one over before relaying its own answer, so a batch whose answers are all in
    /// hand would be read as a chain of nested calls, as deep as the batch. Turns handed over
    /// while one runs wait here instead, and the outermost runs them one after another.
    /// </summary>
    private static class TurnTrampoline
    {
        [ThreadStatic]
        private static Queue<(PipelinedRequest Request, PipelineTurn Turn, Exception? Failure)>? t_waiting;

        [ThreadStatic]
        private static bool t_running;

        public static void Run(PipelinedRequest request, PipelineTurn turn, Exception? failure)
        {
            if (t_running)
            {
                (t_waiting ??= new()).Enqueue((request, turn, failure));
                return;
            }
            t_running = true;
            try
            {
                request.Complete(turn, failure);
                while (t_waiting is { Count: > 0 } waiting)
                {
                    var next = waiting.Dequeue();
                    next.Request.Complete(next.Turn, next.Failure);
                }
            }
            finally
            {
                t_running = false;
            }
        }
    }

    /// <summary>
    /// Waiting to be sent, it never got a connection: counted like a request that found every
    /// connection busy. Sent, its answer did not come in time: a timeout.
    /// </summary>
    private void GiveUp()
    {
        var sent = Batch.IsSent;
        if (Interlocked.CompareExchange(ref _state, GaveUp, Waiting) == Waiting)
            _turn.SetException(sent
                ? new OperationCanceledException("main's answer to a pipelined request did not come within the bound")
                : new NoConnectionFreeException(null));
    }

    /// <summary>Its client left before the answer.</summary>
    public bool ClientLeft { get; private set; }

    /// <summary>
    /// Its client left: the request is cut short (its deadline cancelled) only
    /// when that cuts nothing else, that is, it is not yet sent or nothing follows it in its
    /// batch. Otherwise it runs its course within the bound and its answer is dropped.
    /// </summary>
    public void OnClientLeft()
    {
        ClientLeft = true;
        var batch = Batch;
        if (!batch.IsSent || Index == batch.Members.Count - 1)
            _deadlineSource.Cancel();
    }

    /// <summary>The bytes are on their way (or never will be): the buffer goes back to the pool.</summary>
    public void ReleaseBuffer()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
            ArrayPool<byte>.Shared.Return(buffer);
    }

    public PipelineTurn GetResult(short token)
    {
        _deadline.Dispose();
        return _turn.GetResult(token);
    }

    public ValueTaskSourceStatus GetStatus(short token) => _turn.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _turn.OnCompleted(continuation, state, token, flags);
}
