using System.Buffers;

namespace AotKvs.Forwarding.Pipelining;

/// <summary>
/// Requests sent to main together, in one write on one connection; main answers them in
/// order, and each answer must carry its own request's tag.
/// </summary>
internal sealed class PipelineBatch(PipelineLane lane)
{
    public PipelineLane Lane { get; } = lane;
    public List<PipelinedRequest> Members { get; } = new(8);

    /// <summary>Its members are fixed and its bytes on their way to main (or about to be).</summary>
    public bool IsSent { get; set; }

    /// <summary>The members' bytes back to back (rented from the shared pool), kept to send again on a fresh connection.</summary>
    public byte[]? Sent { get; private set; }
    public int SentLength { get; private set; }

    public void Add(PipelinedRequest request)
    {
        request.Batch = this;
        Members.Add(request);
    }

    /// <summary>
    /// Fixes the batch: members that already gave up are dropped, the others' bytes copied
    /// into one buffer and their own buffers returned. False when nobody is left.
    /// </summary>
    public bool Seal()
    {
        IsSent = true;
        var length = 0;
        foreach (var member in Members)
            length += member.HasGivenUp ? 0 : member.Length;
        Sent = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        var at = 0;
        var kept = 0;
        for (var i = 0; i < Members.Count; i++)
        {
            var member = Members[i];
            if (!member.HasGivenUp)
            {
                member.Offset = at;
                member.Bytes.CopyTo(Sent.AsSpan(at));
                at += member.Length;
                Members[kept++] = member;
            }
            member.ReleaseBuffer();
        }
        Members.RemoveRange(kept, Members.Count - kept);
        SentLength = at;
        return kept > 0;
    }

    /// <summary>
    /// The members from <paramref name="first"/> on that still wait, as a new sealed batch
    /// on the same lane (main closed before reading them); null when none waits.
    /// </summary>
    public PipelineBatch? Rest(int first)
    {
        var rest = new PipelineBatch(Lane) { IsSent = true };
        var length = 0;
        for (var i = first; i < Members.Count; i++)
            length += Members[i].HasGivenUp ? 0 : Members[i].Length;
        if (length == 0)
            return null;
        rest.Sent = ArrayPool<byte>.Shared.Rent(length);
        for (var i = first; i < Members.Count; i++)
        {
            var member = Members[i];
            if (member.HasGivenUp)
                continue;
            Sent.AsSpan(member.Offset, member.Length).CopyTo(rest.Sent.AsSpan(rest.SentLength));
            member.Offset = rest.SentLength;
            rest.SentLength += member.Length;
            rest.Add(member);
        }
        return rest;
    }

    /// <summary>When the member that arrived last did: after its deadline, nobody waits for anything the batch reads.</summary>
    public long LastArrival
    {
        get
        {
            var last = 0L;
            foreach (var member in Members)
                last = Math.Max(last, member.Arrived);
            return last;
        }
    }

    /// <summary>Every member from <paramref name="first"/> on has stopped waiting: reading on would serve nobody.</summary>
    public bool NobodyWaitsFrom(int first)
    {
        for (var i = first; i < Members.Count; i++)
        {
            if (!Members[i].HasGivenUp)
                return false;
        }
        return true;
    }

    /// <summary>Returns the copy of the bytes (the batch is over).</summary>
    public void ReleaseSent()
    {
        if (Sent is { } sent)
        {
            Sent = null;
            ArrayPool<byte>.Shared.Return(sent);
        }
    }
}
