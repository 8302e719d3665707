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
