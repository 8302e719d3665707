using System.Buffers;
using System.Threading.Tasks.Sources;
using AotKvs.Forwarding.Client;

namespace AotKvs.Forwarding.Pipelining;

/// <summary>
/// One forwarded request in a <see cref="PipelineBatch"/>: its bytes until the batch has
/// copied them, and the wait for its own answer, which ends at its own deadline or when its
/// client leaves. Giving up touches nothing but itself: the batch reads the answer anyway
/// (the connection stays in step for the others) and drops it.
/// </summary>
/// <remarks>
/// Answers are handed over inline (continuations run synchronously), like the socket
/// completion that read them: a thread hop per request would cost more than batching saves.
/// </remarks>
internal sealed class PipelinedRequest : IValueTaskSource<UpstreamAnswer>
{
    private const int Waiting = 0, Answered = 1, GaveUp = 2;

    private ManualResetValueTaskSourceCore<UpstreamAnswer> _answer;
    private int _state;
    private CancellationTokenRegistration _deadline;
    private byte[]? _buffer;

    /// <summary>Takes over <paramref name="buffer"/> (rented from the shared pool); the batch returns it.</summary>
    public PipelinedRequest(byte[] buffer, int length, ulong tag, bool isHead)
    {
        _buffer = buffer;
        Length = length;
        Tag = tag;
        IsHead = isHead;
    }

    /// <summary>When it arrived (a Stopwatch timestamp): its deadline is the forwarding timeout from then.</summary>
    public long Arrived { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(0, Length);
    public int Length { get; }
    public ulong Tag { get; }
    public bool IsHead { get; }

    /// <summary>The batch it is in.</summary>
    public PipelineBatch Batch { get; set; } = null!;

    /// <summary>Where its bytes start in the batch's copy, once sent.</summary>
    public int Offset { get; set; }

    /// <summary>It stopped waiting (its deadline, or its client left): its answer has nobody to read it.</summary>
    public bool HasGivenUp => Volatile.Read(ref _state) == GaveUp;

    /// <summary>Its client left before the answer.</summary>
    public bool ClientLeft { get; private set; }

    /// <summary>Waits for its answer until <paramref name="deadline"/>.</summary>
    public ValueTask<UpstreamAnswer> WaitAsync(CancellationToken deadline)
    {
        _deadline = deadline.UnsafeRegister(static request => ((PipelinedRequest)request!).GiveUp(), this);
        return new ValueTask<UpstreamAnswer>(this, _answer.Version);
    }

    /// <summary>Hands main's answer over; false (and the answer dropped) when the request gave up.</summary>
    public bool TryDeliver(UpstreamAnswer answer)
    {
        if (Interlocked.CompareExchange(ref _state, Answered, Waiting) == Waiting)
        {
            _answer.SetResult(answer);
            return true;
        }
        answer.Body.Dispose();
        return false;
    }

    /// <summary>Its own answer could not be had: it fails so (the usual 503).</summary>
    public void Fail(Exception failure)
    {
        if (Interlocked.CompareExchange(ref _state, Answered, Waiting) == Waiting)
            _answer.SetException(failure);
    }

    /// <summary>
    /// The deadline passed. Not yet sent, it never got a connection: counted like a request
    /// that found every connection busy. Sent, its answer did not come in time: a timeout.
    /// </summary>
    private void GiveUp() => Leave(Batch.IsSent
        ? new OperationCanceledException("main's answer to a pipelined request did not come within the bound")
        : new NoConnectionFreeException(null));

    /// <summary>Its client left: it stops waiting at once; the batch goes on without it.</summary>
    public void OnClientLeft()
    {
        ClientLeft = true;
        Leave(new OperationCanceledException("the client left"));
    }

    private void Leave(Exception failure)
    {
        if (Interlocked.CompareExchange(ref _state, GaveUp, Waiting) == Waiting)
            _answer.SetException(failure);
    }

    /// <summary>The bytes are copied (or never will be): the buffer goes back to the pool.</summary>
    public void ReleaseBuffer()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
            ArrayPool<byte>.Shared.Return(buffer);
    }

    public UpstreamAnswer GetResult(short token)
    {
        // Stryker disable once Statement : a deadline firing after the outcome finds the request answered and does nothing; this only ends the registration early
        _deadline.Dispose();
        return _answer.GetResult(token);
    }

    public ValueTaskSourceStatus GetStatus(short token) => _answer.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _answer.OnCompleted(continuation, state, token, flags);
}
