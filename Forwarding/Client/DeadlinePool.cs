using System.Collections.Concurrent;

namespace AotKvs.Forwarding.Client;

/// <summary>
/// Cancellation sources that fire after the forwarding timeout, reused across requests:
/// one per request would be an allocation and a timer registration on the hot path.
/// </summary>
internal sealed class DeadlinePool(TimeSpan timeout)
{
    private readonly ConcurrentQueue<CancellationTokenSource> _idle = new();

    /// <summary>How long after <see cref="Rent()"/> a source fires.</summary>
    public TimeSpan Timeout { get; } = timeout;

    public CancellationTokenSource Rent() => Rent(TimeSpan.Zero);

    /// <summary>
    /// A source that fires <paramref name="longer"/> after the timeout: a request that asked to
    /// wait (Prefer: wait) gets its wait on top of the usual bound. The same pooled sources.
    /// </summary>
    public CancellationTokenSource Rent(TimeSpan longer)
    {
        var source = _idle.TryDequeue(out var reused) ? reused : new CancellationTokenSource();
        source.CancelAfter(Timeout + longer);
        return source;
    }

    /// <summary>
    /// Only a source that never fired (neither the deadline nor the client's abort) can be
    /// reset, which also stops its timer.
    /// </summary>
    public void Return(CancellationTokenSource source)
    {
        if (source.TryReset() && _idle.Count < 1024)
            _idle.Enqueue(source);
        else
            source.Dispose();
    }
}
