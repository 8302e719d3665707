namespace AotKvs.Tests.Linearizability;

/// <summary>Whether a tag names the register's state: certainly, certainly not, or it cannot be known.</summary>
public enum Match { No, Maybe, Yes }

/// <summary>What a header or an answer's tag names, in terms of the values PUTs wrote.</summary>
public enum NamedKind { Nothing, Any, Value, Unseen, Never }

/// <summary>
/// One tag, read as the register's value it stands for: no tag (Nothing), "*" (Any), the value
/// it was seen with (Value), or a tag never seen with a value (Unseen: a stale or foreign tag,
/// or the tag of a value nobody read), or a tag that matches nothing (a weak tag in If-Match:
/// the comparison there is strong).
/// </summary>
public readonly record struct Named(NamedKind Kind, long Value = 0)
{
    public static Named Nothing => default;
}

/// <summary>
/// An operation's tags in the model's terms: its If-Match and If-None-Match, and the tag a 412
/// answered with. <see cref="Tagged"/>: every value whose tag was seen; an Unseen tag can
/// only be that of another.
/// </summary>
public readonly record struct Terms(Named IfMatch, Named IfNoneMatch, Named Answered, IReadOnlySet<long>? Tagged)
{
    public static Terms None => default;

    /// <summary>RFC 9110 §13.2.2 on the register's state: If-Match, then If-None-Match.</summary>
    public Match Holds(long state)
    {
        var match = IfMatch.Kind == NamedKind.Nothing ? Match.Yes : Names(IfMatch, state);
        var noneMatch = IfNoneMatch.Kind == NamedKind.Nothing ? Match.No : Names(IfNoneMatch, state);
        return match == Match.No || noneMatch == Match.Yes ? Match.No
            : match == Match.Yes && noneMatch == Match.No ? Match.Yes
            : Match.Maybe;
    }

    /// <summary>A 412's ETag is the current value's; none means the key was absent.</summary>
    public bool AnswerFits(long state) => Answered.Kind == NamedKind.Nothing
        ? state == RegisterModel.Absent
        : Names(Answered, state) != Match.No;

    private Match Names(Named tag, long state)
    {
        if (state == RegisterModel.Absent)
            return Match.No; // an absent key has no tag: not even "*" names it
        if (tag.Kind is NamedKind.Any or NamedKind.Never)
            return tag.Kind == NamedKind.Any ? Match.Yes : Match.No;
        if (state == RegisterModel.Earlier)
            return Match.Maybe; // a value from before the window: which one is not known
        if (tag.Kind == NamedKind.Value)
            return state == tag.Value ? Match.Yes : Match.No; // an unread value's tag was never seen: it is no seen value's
        return state == RegisterModel.Unread || Tagged?.Contains(state) != true ? Match.Maybe : Match.No;
    }
}

/// <summary>
/// One key's tags, learnt from the answers: a GET's ETag is that of the value it read, a
/// PUT's that of the value it stored. A tag names one value and a value has one tag, so two
/// answers that disagree are a violation on their own, whatever the order. Every other tag
/// (in a condition, on a 412) is read as the value it names.
/// </summary>
public sealed class KeyTags
{
    private readonly Dictionary<string, long> _valueOf = [];
    private readonly HashSet<long> _tagged = [];

    private KeyTags() { }

    /// <summary>The key's tags, or the two operations whose tags contradict each other.</summary>
    public static KeyTags Learn(IReadOnlyList<Operation> ops, out (Operation First, Operation Second)? conflict)
    {
        var tags = new KeyTags();
        var tagOf = new Dictionary<long, (string Tag, Operation By)>();
        var seenBy = new Dictionary<string, Operation>();
        conflict = null;
        foreach (var op in ops)
        {
            if (op.Tag is not { } tag || op.Outcome is not (OpOutcome.Found or OpOutcome.Created or OpOutcome.Replaced))
                continue;
            var value = op.Value;
            if (tagOf.TryGetValue(value, out var known) && known.Tag != tag)
            {
                conflict = (known.By, op); // one value, two tags
                return tags;
            }
            if (tags._valueOf.TryGetValue(tag, out var other) && other != value)
            {
                conflict = (seenBy[tag], op); // one tag, two values
                return tags;
            }
            tagOf[value] = (tag, op);
            seenBy[tag] = op;
            tags._valueOf[tag] = value;
            tags._tagged.Add(value);
        }
        return tags;
    }

    public Terms For(Operation op) => !op.IsConditional && op.Outcome != OpOutcome.PreconditionFailed
        ? Terms.None
        : new Terms(Read(op.IfMatch, strong: true), Read(op.IfNoneMatch, strong: false),
            op.Outcome == OpOutcome.PreconditionFailed ? Read(op.Tag, strong: true) : Named.Nothing, _tagged);

    /// <summary>If-Match compares strongly, If-None-Match weakly (RFC 9110 §8.8.3.2): W/"x" names "x" there.</summary>
    private Named Read(string? tag, bool strong) =>
        tag is null ? Named.Nothing
        : tag == "*" ? new Named(NamedKind.Any)
        : tag.StartsWith("W/", StringComparison.Ordinal) ? (strong ? new Named(NamedKind.Never) : Read(tag[2..], strong))
        : _valueOf.TryGetValue(tag, out var value) ? new Named(NamedKind.Value, value)
        : new Named(NamedKind.Unseen);
}
