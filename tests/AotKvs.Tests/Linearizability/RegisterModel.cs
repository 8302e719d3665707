namespace AotKvs.Tests.Linearizability;

/// <summary>
/// The sequential specification of one key: a register that is absent or holds a value.
/// Step returns whether the operation's recorded outcome is possible from the state, and
/// the state after it.
/// </summary>
public static class RegisterModel
{
    public const long Absent = long.MinValue;

    public static bool Step(long state, Operation op, out long next)
    {
        next = state;
        switch (op.Kind)
        {
            case OpKind.Reset:
                next = Absent;
                return true;
            case OpKind.Put:
                next = op.Value;
                return op.Outcome switch
                {
                    OpOutcome.Created => state == Absent,
                    OpOutcome.Replaced => state != Absent,
                    _ => true, // unknown: it took effect, with whichever answer
                };
            case OpKind.Delete:
                next = Absent;
                return op.Outcome switch
                {
                    OpOutcome.Deleted => state != Absent,
                    OpOutcome.NotFound => state == Absent,
                    _ => true,
                };
            case OpKind.Get:
                return op.Outcome switch
                {
                    OpOutcome.Found => state == op.Value,
                    OpOutcome.NotFound => state == Absent,
                    _ => true,
                };
            default:
                return false;
        }
    }
}
