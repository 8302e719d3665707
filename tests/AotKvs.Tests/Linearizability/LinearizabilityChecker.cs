using System.Diagnostics;

namespace AotKvs.Tests.Linearizability;

/// <summary>OutOfBudget fails a run as a Violation does: an unfinished check proves nothing.</summary>
public enum Verdict { Linearizable, Violation, OutOfBudget }

/// <summary>
/// The verdict for one key. For a violation: the operation no linearization could get past
/// and the smallest window of operations that shows it on its own; for an answer outside
/// the budget: why.
/// </summary>
public sealed record KeyVerdict(string Key, Verdict Verdict, int Operations, long Steps, int PeakConfigurations,
    Operation? Stuck, IReadOnlyList<Operation> Window, string? Reason);

/// <summary>
/// Per key, at most this long and this much memory for the set of configurations (about
/// <see cref="BytesPerConfiguration"/> each); running out is a verdict of its own.
/// </summary>
public sealed record CheckLimits(TimeSpan TimePerKey, long MemoryPerKey)
{
    public const int BytesPerConfiguration = 128;
    public static readonly CheckLimits Default = new(TimeSpan.FromSeconds(60), 256L << 20);
    public int MaxConfigurations => (int)Math.Min(int.MaxValue, MemoryPerKey / BytesPerConfiguration);
}

/// <summary>
/// Decides whether a history of a map of registers is linearizable. Keys are independent
/// (P-compositionality), so each key is checked alone, together with main's restarts, one
/// key after the other so that memory is that of one key's check. Per key: a strict answer
/// check, the tags' check (<see cref="KeyTags"/>), then <see cref="Frontier"/> over the key's
/// events; a violation is then narrowed to a window by <see cref="ViolationWindow"/>.
/// </summary>
public static class LinearizabilityChecker
{
    public static IReadOnlyList<KeyVerdict> Check(IReadOnlyList<Operation> history, TimeSpan budgetPerKey) =>
        Check(history, CheckLimits.Default with { TimePerKey = budgetPerKey });

    public static IReadOnlyList<KeyVerdict> Check(IReadOnlyList<Operation> history, CheckLimits limits)
    {
        // Counted first, so each key's list is allocated once at its size.
        var counts = new Dictionary<string, int>();
        foreach (var op in history)
            if (op.Kind != OpKind.Reset)
                counts[op.Key] = counts.GetValueOrDefault(op.Key) + 1;
        var restarts = new List<Operation>();
        var byKey = counts.ToDictionary(c => c.Key, c => new List<Operation>(c.Value));
        foreach (var op in history)
        {
            if (op.Kind == OpKind.Reset)
                restarts.Add(op);
            else
                byKey[op.Key].Add(op);
        }
        var verdicts = new List<KeyVerdict>(byKey.Count);
        foreach (var (key, ops) in byKey)
            verdicts.Add(CheckKey(key, ops, restarts, limits));
        if (byKey.Count == 0 && restarts.Count > 0)
            verdicts.Add(CheckKey(Operation.AllKeys, [], restarts, limits));
        return verdicts;
    }

    public static KeyVerdict CheckKey(string key, IReadOnlyList<Operation> ops, IReadOnlyList<Operation> restarts, CheckLimits limits)
    {
        foreach (var op in ops.Concat(restarts))
            if (!op.AnswerBelongs)
                return new KeyVerdict(key, Verdict.Violation, ops.Count, 0, 0, op, [op], "an answer that does not belong to the operation");

        var tags = KeyTags.Learn(ops, out var conflict);
        if (conflict is var (first, second))
            return new KeyVerdict(key, Verdict.Violation, ops.Count, 0, 0, second, [first, second], "one tag for two values, or two tags for one value");

        var history = KeyHistory.Build(key, ops, restarts, tags);
        var clock = Stopwatch.StartNew();
        var run = new Frontier(history, 0, limits.MaxConfigurations).Run(0, history.Events.Length, limits.TimePerKey);
        if (run.OutOfBudget is { } reason)
            return new KeyVerdict(key, Verdict.OutOfBudget, ops.Count, run.Steps, run.PeakConfigurations,
                history.Ops[history.Events[run.Failed].Op], [], reason);
        if (run.Failed < 0)
            return new KeyVerdict(key, Verdict.Linearizable, ops.Count, run.Steps, run.PeakConfigurations, null, [], null);

        var left = limits.TimePerKey - clock.Elapsed;
        var window = ViolationWindow.Find(history, run.Failed, limits with { TimePerKey = left > TimeSpan.Zero ? left : TimeSpan.Zero });
        return new KeyVerdict(key, Verdict.Violation, ops.Count, run.Steps, run.PeakConfigurations,
            history.Ops[history.Events[run.Failed].Op], window, "no order of the operations explains the answers");
    }
}
