using System.Text;

namespace AotKvs.Tests.Linearizability;

/// <summary>A run in figures: histories, operations, faults, violations, and the window that shows each.</summary>
public static class LinearizabilityReport
{
    public static string Write(IReadOnlyList<Operation> history, IReadOnlyList<KeyVerdict> verdicts,
        IReadOnlyList<string> anomalies, IReadOnlyList<string> faults, TimeSpan checkTime)
    {
        // Counted in one pass: a long history holds millions of operations.
        var outcomes = new int[Enum.GetValues<OpOutcome>().Length];
        var restarts = 0;
        foreach (var op in history)
            if (op.Kind == OpKind.Reset) restarts++;
            else outcomes[(int)op.Outcome]++;
        var text = new StringBuilder()
            .AppendLine($"histories (keys checked): {verdicts.Count}")
            .AppendLine($"operations: {history.Count - restarts} (unanswered: {outcomes[(int)OpOutcome.Unknown]}; " +
                        string.Join(", ", Enum.GetValues<OpOutcome>().Where(o => outcomes[(int)o] > 0).Select(o => $"{o} {outcomes[(int)o]}")) + ")")
            .AppendLine($"restarts of main: {restarts}")
            .AppendLine($"faults: {string.Join("; ", faults)}")
            .AppendLine($"violations: {verdicts.Count(v => v.Verdict == Verdict.Violation)}, out of budget: {verdicts.Count(v => v.Verdict == Verdict.OutOfBudget)}")
            .AppendLine($"search steps: {verdicts.Sum(v => v.Steps)}, most configurations at once: {(verdicts.Count == 0 ? 0 : verdicts.Max(v => v.PeakConfigurations))}, check time: {checkTime.TotalSeconds:F1} s")
            .AppendLine($"test process peak resident memory: {PeakResidentMemory()}")
            .AppendLine($"answers outside the SPEC: {anomalies.Count}");
        foreach (var anomaly in anomalies.Take(20))
            text.AppendLine("  " + anomaly);
        foreach (var bad in verdicts.Where(v => v.Verdict != Verdict.Linearizable))
            text.Append(Describe(bad));
        return text.ToString();
    }

    /// <summary>VmHWM of this process: the most memory it ever held resident.</summary>
    public static string PeakResidentMemory() =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))?[6..].Trim() ?? "unknown";

    /// <summary>One bad key: the verdict, its reason, where it got stuck and the window that shows it.</summary>
    public static string Describe(KeyVerdict bad)
    {
        var text = new StringBuilder()
            .AppendLine($"key {bad.Key}: {bad.Verdict} ({bad.Reason}) after {bad.Steps} steps; stuck at: {bad.Stuck}");
        if (bad.Window.Count > 0)
            text.AppendLine($"  the smallest window that shows it: {bad.Window.Count} operations");
        foreach (var op in bad.Window.Take(200))
            text.AppendLine("  " + op);
        return text.ToString();
    }
}
