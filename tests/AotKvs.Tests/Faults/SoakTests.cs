using System.Diagnostics;
using System.Text;
using AotKvs.Tests.Linearizability;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.Faults;

/// <summary>
/// A forwarder saturated with a mixed workload (15 s in CI, 60 s in the long form): no
/// unexpected answer, a linearizable history, and resident memory flat once warm.
/// </summary>
[Collection(FaultsCollection.Name), Trait("Category", "Faults")]
public sealed class SoakTests(ITestOutputHelper output)
{
    /// <summary>Growth allowed once warm; a leak of one small buffer per request would exceed it many times over.</summary>
    private const double MaxSlopeKiBPerSecond = 256;

    [Fact]
    public async Task Saturated_forwarder_has_no_errors_and_flat_memory()
    {
        var duration = FaultProfile.Pick(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(60));
        using var main = ServerProcess.StartMain();
        using var forwarder = ServerProcess.StartForwarder(main.Address);

        var plan = new WorkloadPlan(Clients: 16, Keys: 1000, duration, MaxOpsPerClient: 10_000_000, OpTimeout: TimeSpan.FromSeconds(2), Seed: 3);
        var workload = new Workload(plan, _ => [new HttpKvsTarget("forwarder", forwarder.Port)]);
        var samples = new List<(double Seconds, long Kib)>();
        var mainSamples = new List<(double Seconds, long Kib)>();
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                samples.Add((clock.Elapsed.TotalSeconds, ResidentKib(forwarder.Pid)));
                mainSamples.Add((clock.Elapsed.TotalSeconds, ResidentKib(main.Pid)));
                try { await Task.Delay(250, stop.Token); } catch (OperationCanceledException) { }
            }
        });
        await workload.RunAsync();
        stop.Cancel();
        await sampler;

        var history = workload.History;
        var unanswered = history.Count(op => op.IsIndeterminate);
        var verdicts = LinearizabilityChecker.Check(history, TimeSpan.FromSeconds(30));
        // Warm-up: the first third (pools, JIT-free but GC heaps still sizing).
        var warm = samples.Where(s => s.Seconds >= duration.TotalSeconds / 3).ToList();
        var slope = Slope(warm);
        var report = new StringBuilder()
            .AppendLine($"duration: {duration.TotalSeconds} s, clients: {plan.Clients}, keys: {plan.Keys}")
            .AppendLine($"operations: {history.Count} ({history.Count / duration.TotalSeconds:F0}/s), unanswered: {unanswered}, answers outside the SPEC: {workload.Anomalies.Count}")
            .AppendLine($"linearizability violations: {verdicts.Count(v => v.Verdict != Verdict.Linearizable)}")
            .AppendLine($"forwarder VmRSS: start {samples[0].Kib} KiB, peak {samples.Max(s => s.Kib)} KiB, end {samples[^1].Kib} KiB, slope after warm-up {slope:F1} KiB/s over {warm.Count} samples")
            .AppendLine($"main VmRSS: start {mainSamples[0].Kib} KiB, end {mainSamples[^1].Kib} KiB, slope after warm-up {Slope(mainSamples.Where(s => s.Seconds >= duration.TotalSeconds / 3).ToList()):F1} KiB/s");
        foreach (var anomaly in workload.Anomalies.Take(20))
            report.AppendLine("  " + anomaly);
        output.WriteLine(FaultProfile.Report("soak", report.ToString()));

        Assert.Empty(workload.Anomalies);
        Assert.Equal(0, unanswered);
        Assert.DoesNotContain(verdicts, v => v.Verdict != Verdict.Linearizable);
        Assert.True(slope < MaxSlopeKiBPerSecond, $"forwarder RSS grows {slope:F1} KiB/s");
        Assert.False(forwarder.HasExited || main.HasExited);
    }

    private static long ResidentKib(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]);
        }
        catch (IOException) { return 0; }
    }

    /// <summary>Least-squares slope of KiB over seconds.</summary>
    private static double Slope(IReadOnlyList<(double Seconds, long Kib)> samples)
    {
        if (samples.Count < 2) return 0;
        double mx = samples.Average(s => s.Seconds), my = samples.Average(s => (double)s.Kib);
        var num = samples.Sum(s => (s.Seconds - mx) * (s.Kib - my));
        var den = samples.Sum(s => (s.Seconds - mx) * (s.Seconds - mx));
        return den == 0 ? 0 : num / den;
    }
}
