using System.Text;

namespace AotKvs.Tests.Linearizability;

/// <summary>A run in figures: histories, operations, faults, violations, and the history of any bad key.</summary>
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
            .AppendLine($"violations: {verdicts.Count(v => v.Verdict == Verdict.Violation)}, undecided: {verdicts.Count(v => v.Verdict == Verdict.Undecided)}")
            .AppendLine($"search steps: {verdicts.Sum(v => v.Steps)}, check time: {checkTime.TotalSeconds:F1} s")
            .AppendLine($"answers outside the SPEC: {anomalies.Count}");
        foreach (var anomaly in anomalies.Take(20))
            text.AppendLine("  " + anomaly);
        foreach (var bad in verdicts.Where(v => v.Verdict != Verdict.Linearizable))
        {
            text.AppendLine($"key {bad.Key}: {bad.Verdict} after {bad.Steps} steps; stuck at: {bad.Stuck}");
            foreach (var op in bad.History.OrderBy(op => op.Invoke).Take(200))
                text.AppendLine("  " + op);
        }
        return text.ToString();
    }
}
