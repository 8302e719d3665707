using System.Diagnostics;

namespace AotKvs.Tests.Linearizability;

/// <summary>
/// The shortest stretch of a key's events that shows a violation on its own: checked from
/// every state the key could be in at its start (see <see cref="Frontier"/>), it still fails
/// at the same event. Starting later only relaxes the check, so the latest such start is
/// found by doubling back from the failure, then halving.
/// </summary>
public static class ViolationWindow
{
    public static IReadOnlyList<Operation> Find(KeyHistory history, int failed, CheckLimits limits)
    {
        var clock = Stopwatch.StartNew();
        bool Fails(int start)
        {
            if (start == 0) return true; // the full check, which failed there
            var left = limits.TimePerKey - clock.Elapsed;
            if (left <= TimeSpan.Zero) return false; // out of time: fall back on longer windows, down to the whole prefix
            var run = new Frontier(history, start, limits.MaxConfigurations).Run(start, failed + 1, left);
            return run.OutOfBudget is null && run.Failed >= 0;
        }

        int holds = failed, fails = Math.Max(0, failed - 1);
        for (var back = 1; !Fails(fails); back *= 2)
        {
            holds = fails;
            fails = Math.Max(0, failed - back * 2);
        }
        while (holds - fails > 1)
        {
            var mid = fails + (holds - fails) / 2;
            if (Fails(mid)) fails = mid;
            else holds = mid;
        }
        return OpsBetween(history, fails, failed);
    }

    /// <summary>Operations with an event in [start, end], and those open across start.</summary>
    private static IReadOnlyList<Operation> OpsBetween(KeyHistory history, int start, int end)
    {
        var returned = new bool[history.Ops.Length];
        var inWindow = new bool[history.Ops.Length];
        for (var i = 0; i < start; i++)
            if (history.Events[i].Kind == EventKind.Return) returned[history.Events[i].Op] = true;
        for (var i = 0; i < start; i++)
            if (history.Events[i] is { Kind: EventKind.Call } e && !returned[e.Op]) inWindow[e.Op] = true;
        for (var i = start; i <= end; i++)
            inWindow[history.Events[i].Op] = true;
        var window = new List<Operation>();
        for (var op = 0; op < inWindow.Length; op++)
            if (inWindow[op]) window.Add(history.Ops[op]);
        window.Sort(static (a, b) => a.Invoke.CompareTo(b.Invoke));
        return window;
    }
}
