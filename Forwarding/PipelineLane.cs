using System.Diagnostics;

namespace AotKvs.Forwarding;

/// <summary>
/// Requests sent to main together, in one write on one connection; main answers them in order.
/// </summary>
internal sealed class PipelineBatch(PipelineLane lane)
{
    public PipelineLane Lane { get; } = lane;
    public List<PipelinedRequest> Members { get; } = new(8);

    /// <summary>Its members are fixed and its bytes on their way to main (or about to be).</summary>
    public bool IsSent { get; set; }

    /// <summary>The connection the batch was sent on, until its last answer is read or it fails.</summary>
    public UpstreamConnection? Connection { get; set; }

    /// <summary>It went on a pooled connection: a failure before any answer byte may be a stale connection.</summary>
    public bool Reused { get; set; }

    /// <summary>The batch holds one of the forwarder's connection permits.</summary>
    public bool HoldsPermit { get; set; }

    /// <summary>The batch's bytes as sent (rented from the shared pool), kept to send again once on a fresh connection.</summary>
    public byte[]? Sent { get; set; }
    public int SentLength { get; set; }

    /// <summary>Stopwatch timestamp of the last answer read in this batch.</summary>
    public long LastAnswerAt { get; set; }

    public void Add(PipelinedRequest request)
    {
        request.Batch = this;
        request.Index = Members.Count;
        Members.Add(request);
    }

    /// <summary>
    /// Hands the batch to its first member that still waits, which sends it; false when none
    /// does. Members that gave up before being sent are dropped.
    /// </summary>
    public bool Start()
    {
        var batch = this;
        while (batch.Members.Count > 0)
        {
            var first = batch.Members[0];
            if (first.TrySignal(PipelineTurn.Send))
                return true;
            first.ReleaseBuffer();
            batch = batch.Rest(1);
        }
        return false;
    }

    /// <summary>The members from <paramref name="first"/> on that still wait, as a new batch on the same lane.</summary>
    public PipelineBatch Rest(int first)
    {
        if (first == 0 && !Members.Exists(static member => member.HasGivenUp))
            return this;
        var rest = new PipelineBatch(Lane);
        for (var i = first; i < Members.Count; i++)
        {
            if (Members[i].HasGivenUp)
                Members[i].ReleaseBuffer();
            else
                rest.Add(Members[i]);
        }
        return rest;
    }
}

/// <summary>
/// One lane of pipelined requests to main: at most one request or batch in flight, and the
/// requests that arrive meanwhile gather in the next batch, sent in one write when the one in
/// flight is done.
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
    /// <see cref="Finish"/>, and requests arriving meanwhile gather behind it.
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
    /// What was in flight is done (answered or failed): the next batch, if any, is handed to
    /// its first member to send; otherwise the lane is idle.
    /// </summary>
    public void Finish()
    {
        while (true)
        {
            PipelineBatch? next;
            lock (_gate)
            {
                next = _next;
                _next = null;
                if (next is null)
                {
                    _busy = false;
                    return;
                }
                _busySince = Stopwatch.GetTimestamp();
            }
            if (next.Rest(0).Start())
                return;
            // Everyone in it gave up before it was sent: look again.
        }
    }
}
