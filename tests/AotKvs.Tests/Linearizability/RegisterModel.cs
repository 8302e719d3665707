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

    public static bool Step(long state, Operation op, out long next) => Step(state, op, Terms.None, out next);

    /// <summary>
    /// <paramref name="terms"/>: the operation's precondition and a 412's tag, as values
    /// (<see cref="KeyTags"/>). A write applies only where its precondition can hold and
    /// answers 412 only where it can fail (and the 412's tag is then the current value's);
    /// a DELETE of an absent key is not found whatever its precondition (RFC 9110 §13.2.1).
    /// </summary>
    public static bool Step(long state, Operation op, Terms terms, out long next)
    {
        next = state;
        switch (op.Kind)
        {
            case OpKind.Reset:
                next = Absent;
                return op.Outcome == OpOutcome.Deleted;
            case OpKind.Put:
                if (op.Outcome == OpOutcome.PreconditionFailed)
                    return terms.Holds(state) != Match.Yes && terms.AnswerFits(state);
                next = op.Value;
                var putHolds = terms.Holds(state) != Match.No;
                return op.Outcome switch
                {
                    OpOutcome.Created => state == Absent && putHolds,
                    OpOutcome.Replaced => state != Absent && putHolds,
                    OpOutcome.Unknown => putHolds, // it took effect, with whichever answer
                    _ => false,
                };
            case OpKind.Delete:
                if (op.Outcome == OpOutcome.PreconditionFailed)
                    return state != Absent && terms.Holds(state) != Match.Yes && terms.AnswerFits(state);
                next = Absent;
                var deleteHolds = state == Absent || terms.Holds(state) != Match.No;
                return op.Outcome switch
                {
                    OpOutcome.Deleted => state != Absent && deleteHolds,
                    OpOutcome.NotFound => state == Absent,
                    OpOutcome.Unknown => deleteHolds,
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
