namespace AotKvs.Tests.Linearizability;

/// <summary>
/// The sequential specification of one key: a register that is absent or holds a value.
/// Step returns whether the operation's recorded outcome is possible from the state, and
/// the state after it. Strict: an answer that does not belong to the operation is never
/// possible.
/// </summary>
public static class RegisterModel
{
    public const long Absent = long.MinValue;

    /// <summary>Present, holding what an unanswered PUT wrote that no GET ever read.</summary>
    public const long Unread = long.MinValue + 1;

    /// <summary>
    /// Present, holding a value written before the part of the history being checked (the
    /// start of a window); the first GET that finds a value names it.
    /// </summary>
    public const long Earlier = long.MinValue + 2;

    public static bool Step(long state, Operation op, out long next)
    {
        next = state;
        switch (op.Kind)
        {
            case OpKind.Reset:
                next = Absent;
                return op.Outcome == OpOutcome.Deleted;
            case OpKind.Put:
                next = op.Value;
                return op.Outcome switch
                {
                    OpOutcome.Created => state == Absent,
                    OpOutcome.Replaced => state != Absent,
                    OpOutcome.Unknown => true, // it took effect, with whichever answer
                    _ => false,
                };
            case OpKind.Delete:
                next = Absent;
                return op.Outcome switch
                {
                    OpOutcome.Deleted => state != Absent,
                    OpOutcome.NotFound => state == Absent,
                    OpOutcome.Unknown => true,
                    _ => false,
                };
            case OpKind.Get:
                next = op.Outcome == OpOutcome.Found ? op.Value : state;
                return op.Outcome switch
                {
                    OpOutcome.Found => state == op.Value || state == Earlier,
                    OpOutcome.NotFound => state == Absent,
                    _ => false, // an unanswered GET constrains nothing and is left out before
                };
            default:
                return false;
        }
    }
}
