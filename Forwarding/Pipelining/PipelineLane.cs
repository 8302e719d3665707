using System.Diagnostics;

namespace AotKvs.Forwarding.Pipelining;

/// <summary>
/// One lane of pipelined requests to main: at most one request or batch in flight, and the
/// requests that arrive meanwhile gather in the next batch, sent in one write when the one in
/// flight is done (<see cref="UpstreamPipeline"/> runs it).
/// </summary>
internal sealed class PipelineLane(int maxBatch, long maxAge)
{
    private readonly Lock _gate = new();
    private bool _busy;
    private long _busySince;
    private PipelineBatch? _next;

    /// <summary>Nothing in flight: a request joining now is sent at once.</summary>
    public bool IsIdle => !Volatile.Read(ref _busy);

    /// <summary>How many requests wait for the batch in flight (read without the lock: a hint).</summary>
    public int Waiting => _next?.Members.Count ?? 0;

    /// <summary>
    /// Takes the lane if it is idle: the caller sends its request alone and then calls
    /// <see cref="UpstreamPipeline.Finish"/>, and requests arriving meanwhile gather behind it.
    /// </summary>
    public bool TryTake()
    {
        lock (_gate)
        {
            if (_busy)
                return false;
            _busy = true;
            _busySince = Stopwatch.GetTimestamp();
            return true;
        }
    }

    /// <summary>
    /// Puts <paramref name="request"/> in the next batch, to wait for its turn; false when that
    /// batch is full, or the lane went idle meanwhile, or what is in flight has been out longer
    /// than main takes when it is quick (whoever joins would wait on a slow answer).
    /// </summary>
    public bool TryJoin(PipelinedRequest request)
    {
        lock (_gate)
        {
            // Stryker disable once Equality : two timestamps never differ by exactly the window in a way a caller could tell
            if (!_busy || Stopwatch.GetTimestamp() - _busySince > maxAge)
                return false;
            _next ??= new PipelineBatch(this);
            if (_next.Members.Count >= maxBatch)
                return false;
            _next.Add(request);
            return true;
        }
    }

    /// <summary>
    /// What was in flight is done (answered or failed): the next batch, if any, is now in
    /// flight and returned for the caller to run; otherwise the lane is idle.
    /// </summary>
    public PipelineBatch? Finish()
    {
        lock (_gate)
        {
            var next = _next;
            _next = null;
            if (next is null)
                _busy = false;
            else
                _busySince = Stopwatch.GetTimestamp();
            return next;
        }
    }
}
