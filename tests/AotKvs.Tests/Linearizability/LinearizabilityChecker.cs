using System.Diagnostics;

namespace AotKvs.Tests.Linearizability;

public enum Verdict { Linearizable, Violation, Undecided }

/// <summary>The verdict for one key, with the operation no linearization could get past.</summary>
public sealed record KeyVerdict(string Key, Verdict Verdict, int Operations, long Steps, Operation? Stuck, IReadOnlyList<Operation> History);

/// <summary>
/// Decides whether a history of a map of registers is linearizable. Keys are independent
/// (P-compositionality), so each key is checked alone, together with main's restarts.
/// Per key: the Wing &amp; Gong search with Lowe's memoization of (linearized set, state),
/// as in Porcupine. Operations without an answer never complete, so they may be placed
/// anywhere after their invocation, which also covers "never took effect".
/// </summary>
public static class LinearizabilityChecker
{
    public static IReadOnlyList<KeyVerdict> Check(IReadOnlyList<Operation> history, TimeSpan budgetPerKey)
    {
        var restarts = history.Where(op => op.Kind == OpKind.Reset).ToList();
        var byKey = history.Where(op => op.Kind != OpKind.Reset)
            // An unanswered GET changes nothing and constrains nothing.
            .Where(op => !(op.Kind == OpKind.Get && op.IsIndeterminate))
            .GroupBy(op => op.Key)
            .ToList();
        var verdicts = new KeyVerdict[byKey.Count];
        Parallel.For(0, byKey.Count, i =>
        {
            var ops = byKey[i].Concat(restarts).ToList();
            verdicts[i] = CheckKey(byKey[i].Key, ops, budgetPerKey);
        });
        return verdicts;
    }

    public static KeyVerdict CheckKey(string key, IReadOnlyList<Operation> ops, TimeSpan budget)
    {
        var head = EntryList.Build(ops);
        var linearized = new OpSet(ops.Count);
        var seen = new HashSet<(OpSet.Snapshot, long)>();
        var calls = new Stack<(EntryList.Entry Call, long StateBefore)>();
        var state = RegisterModel.Absent;
        var clock = Stopwatch.StartNew();
        long steps = 0;
        var deepest = -1;
        Operation? stuck = null;

        var entry = head.Next!;
        while (head.Next is not null)
        {
            if (++steps % 4096 == 0 && clock.Elapsed > budget)
                return new KeyVerdict(key, Verdict.Undecided, ops.Count, steps, stuck, ops);

            if (entry.IsCall)
            {
                if (RegisterModel.Step(state, entry.Op, out var next))
                {
                    linearized.Add(entry.Id);
                    if (seen.Add((linearized.Snap(), next)))
                    {
                        calls.Push((entry, state));
                        state = next;
                        EntryList.Lift(entry);
                        entry = head.Next!;
                        continue;
                    }
                    linearized.Remove(entry.Id);
                }
                entry = entry.Next!;
            }
            else
            {
                // A completed operation that nothing linearized so far can explain.
                if (calls.Count > deepest)
                {
                    deepest = calls.Count;
                    stuck = entry.Op;
                }
                if (calls.Count == 0)
                    return new KeyVerdict(key, Verdict.Violation, ops.Count, steps, stuck, ops);
                var (call, before) = calls.Pop();
                state = before;
                linearized.Remove(call.Id);
                EntryList.Unlift(call);
                entry = call.Next!;
            }
        }
        return new KeyVerdict(key, Verdict.Linearizable, ops.Count, steps, null, []);
    }
}
