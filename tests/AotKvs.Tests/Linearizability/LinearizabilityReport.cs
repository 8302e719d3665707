using System.Text;

namespace AotKvs.Tests.Linearizability;

/// <summary>A run in figures: histories, operations, faults, violations, and the window that shows each.</summary>
public static class LinearizabilityReport
{
    public static string Write(IReadOnlyList<Operation> history, IReadOnlyList<KeyVerdict> verdicts,
        IReadOnlyList<string> anomalies, IReadOnlyList<string> faults, TimeSpan checkTime)
    {
        var ops = history.Where(op => op.Kind != OpKind.Reset).ToList();
        var text = new StringBuilder()
            .AppendLine($"histories (keys checked): {verdicts.Count}")
            .AppendLine($"operations: {ops.Count} (unanswered: {ops.Count(op => op.IsIndeterminate)}; " +
                        string.Join(", ", ops.GroupBy(op => op.Outcome).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}")) + ")")
            .AppendLine($"restarts of main: {history.Count(op => op.Kind == OpKind.Reset)}")
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
