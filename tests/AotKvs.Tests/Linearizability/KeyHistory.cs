namespace AotKvs.Tests.Linearizability;

public enum EventKind { Call, Token, Return }

/// <summary>One point in a key's history: an operation starts or ends, or an unanswered one becomes usable.</summary>
public readonly record struct KeyEvent(long Time, EventKind Kind, int Op);

/// <summary>
/// One key's operations (with main's restarts) as a time-ordered list of events, with the
/// unanswered writes sorted by what can still be known about them:
/// <list type="bullet">
/// <item>an unanswered PUT whose value some GET found took effect before the first such GET
/// completed: it is checked as an operation that completes then;</item>
/// <item>an unanswered PUT nobody read, or an unanswered DELETE, may take effect at any time
/// after it was sent, or never. All such PUTs act alike (the key becomes present with a
/// value no one reads), as do all such DELETEs, so each is a token: one more write of
/// that kind usable from its invocation on.</item>
/// <item>an unanswered conditional write nobody read took effect only if its precondition
/// held then, or never: it is not interchangeable with others, so it stays open to the
/// end of the history, where taking no effect is always one way it went.</item>
/// </list>
/// Unanswered GETs change nothing and are left out.
/// </summary>
public sealed class KeyHistory
{
    private KeyHistory(string key, Operation[] ops, Terms[] terms, KeyEvent[] events)
    {
        Key = key;
        Ops = ops;
        Terms = terms;
        Events = events;
        Conditional = ops.Any(op => op.IsConditional);
    }

    public string Key { get; }
    public Operation[] Ops { get; }

    /// <summary>Each operation's precondition in the model's terms (<see cref="KeyTags"/>).</summary>
    public Terms[] Terms { get; }

    public KeyEvent[] Events { get; }

    /// <summary>Some write carries a precondition: which value a present key holds then matters even unread.</summary>
    public bool Conditional { get; }

    public static KeyHistory Build(string key, IReadOnlyList<Operation> keyOps, IReadOnlyList<Operation> restarts) =>
        Build(key, keyOps, restarts, KeyTags.Learn(keyOps, out _));

    public static KeyHistory Build(string key, IReadOnlyList<Operation> keyOps, IReadOnlyList<Operation> restarts, KeyTags tags)
    {
        var written = new HashSet<long>();
        foreach (var op in keyOps)
            if (op.Kind == OpKind.Put && !written.Add(op.Value))
                throw new InvalidDataException($"two PUTs of {key} write {op.Value}: the checker needs every PUT's value to be unique");
        var firstRead = new Dictionary<long, long>();
        foreach (var op in keyOps)
            if (op is { Kind: OpKind.Get, Outcome: OpOutcome.Found })
                firstRead[op.Value] = firstRead.TryGetValue(op.Value, out var t) ? Math.Min(t, op.Complete) : op.Complete;

        var ops = new List<Operation>(keyOps.Count + restarts.Count);
        var events = new List<KeyEvent>((keyOps.Count + restarts.Count) * 2);
        foreach (var op in keyOps.Concat(restarts))
        {
            if (op is { Kind: OpKind.Get, Outcome: OpOutcome.Unknown })
                continue;
            var id = ops.Count;
            ops.Add(op);
            if (op.Outcome != OpOutcome.Unknown || op.Kind == OpKind.Reset)
            {
                events.Add(new KeyEvent(op.Invoke, EventKind.Call, id));
                events.Add(new KeyEvent(op.Complete, EventKind.Return, id));
            }
            else if (op.Kind == OpKind.Put && firstRead.TryGetValue(op.Value, out var readBy))
            {
                events.Add(new KeyEvent(op.Invoke, EventKind.Call, id));
                events.Add(new KeyEvent(readBy, EventKind.Return, id));
            }
            else if (op.IsConditional)
            {
                events.Add(new KeyEvent(op.Invoke, EventKind.Call, id));
                events.Add(new KeyEvent(Operation.Never, EventKind.Return, id));
            }
            else
                events.Add(new KeyEvent(op.Invoke, EventKind.Token, id));
        }
        // At equal times starts sort before ends: the operations count as overlapping.
        events.Sort(static (a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time)
            : a.Kind != b.Kind ? a.Kind.CompareTo(b.Kind) : a.Op.CompareTo(b.Op));
        return new KeyHistory(key, [.. ops], [.. ops.Select(tags.For)], [.. events]);
    }
}
