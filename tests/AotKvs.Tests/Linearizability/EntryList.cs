namespace AotKvs.Tests.Linearizability;

/// <summary>
/// A history as one time-ordered, doubly linked list of call and return events, from which
/// a linearized operation is lifted out (both its events) and put back on backtracking.
/// </summary>
internal static class EntryList
{
    internal sealed class Entry
    {
        public required Operation Op { get; init; }
        public int Id { get; init; }
        public bool IsCall { get; init; }
        public long Time { get; init; }
        public Entry? Match { get; set; }
        public Entry? Prev { get; set; }
        public Entry? Next { get; set; }
    }

    /// <summary>A sentinel head followed by the events, earliest first.</summary>
    public static Entry Build(IReadOnlyList<Operation> ops)
    {
        var entries = new List<Entry>(ops.Count * 2);
        for (var id = 0; id < ops.Count; id++)
        {
            var call = new Entry { Op = ops[id], Id = id, IsCall = true, Time = ops[id].Invoke };
            var ret = new Entry { Op = ops[id], Id = id, IsCall = false, Time = ops[id].Complete };
            call.Match = ret;
            entries.Add(call);
            entries.Add(ret);
        }
        // At equal times a call sorts first: the operations count as overlapping.
        entries.Sort((a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : b.IsCall.CompareTo(a.IsCall));

        var head = new Entry { Op = ops.Count > 0 ? ops[0] : Operation.Restart(0, 0), Id = -1 };
        var last = head;
        foreach (var e in entries)
        {
            last.Next = e;
            e.Prev = last;
            last = e;
        }
        return head;
    }

    public static void Lift(Entry call)
    {
        call.Prev!.Next = call.Next;
        call.Next!.Prev = call.Prev;
        var ret = call.Match!;
        ret.Prev!.Next = ret.Next;
        if (ret.Next is not null)
            ret.Next.Prev = ret.Prev;
    }

    public static void Unlift(Entry call)
    {
        var ret = call.Match!;
        ret.Prev!.Next = ret;
        if (ret.Next is not null)
            ret.Next.Prev = ret;
        call.Prev!.Next = call;
        call.Next!.Prev = call;
    }
}
