using System.Diagnostics;
using System.Text;
using AotKvs.Tests.Linearizability;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.Faults;

/// <summary>
/// A forwarder saturated with a mixed workload (15 s in CI, 60 s in the long form): no
/// unexpected answer, a linearizable history, a real load (a minimum throughput), and
/// resident memory flat once warm.
/// </summary>
[Collection(FaultsCollection.Name), Trait("Category", "Faults")]
public sealed class SoakTests(ITestOutputHelper output)
{
    /// <summary>
    /// A quarter of what this soak measures on a busy 2-core machine (about 20,000/s through
    /// the forwarder): less means the soak proved little, whatever the memory did.
    /// </summary>
    private const double MinOperationsPerSecond = 5_000;

    /// <summary>
    /// Resident growth allowed once warm, per operation. The forwarder's RSS moves in steps
    /// (the GC commits and returns whole regions), so a least-squares slope over 10 s swings
    /// by ±1 MiB/s. Counted instead: every rise between samples after warm-up, with the
    /// falls left out, so memory the GC returns cannot hide memory that leaks. A leak of one
    /// small object per request (24 bytes or more) exceeds this several times over.
    /// </summary>
    private const double MaxGrowthBytesPerOperation = 4;

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
        var startTicks = Stopwatch.GetTimestamp();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                samples.Add((clock.Elapsed.TotalSeconds, ResidentKib(forwarder)));
                mainSamples.Add((clock.Elapsed.TotalSeconds, ResidentKib(main)));
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
        var warmFrom = duration.TotalSeconds / 3;
        var warm = samples.Where(s => s.Seconds >= warmFrom).ToList();
        var slope = Slope(warm);
        var warmTicks = startTicks + (long)(warmFrom * Stopwatch.Frequency);
        var warmOps = history.Count(op => op.Invoke >= warmTicks);
        var growthBytes = warm.Zip(warm.Skip(1), (a, b) => Math.Max(0, b.Kib - a.Kib)).Sum() * 1024.0;
        var perOperation = growthBytes / Math.Max(1, warmOps);
        var throughput = history.Count / duration.TotalSeconds;
        var report = new StringBuilder()
            .AppendLine($"duration: {duration.TotalSeconds} s, clients: {plan.Clients}, keys: {plan.Keys}")
            .AppendLine($"operations: {history.Count} ({throughput:F0}/s, at least {MinOperationsPerSecond:F0}/s required), unanswered: {unanswered}, answers outside the SPEC: {workload.Anomalies.Count}")
            .AppendLine($"linearizability violations: {verdicts.Count(v => v.Verdict != Verdict.Linearizable)}")
            .AppendLine($"forwarder VmRSS: start {samples[0].Kib} KiB, peak {samples.Max(s => s.Kib)} KiB, end {samples[^1].Kib} KiB, slope after warm-up {slope:F1} KiB/s over {warm.Count} samples")
            .AppendLine($"forwarder growth after warm-up (the rises between samples, falls left out): {growthBytes / 1024:F0} KiB over {warmOps} operations = {perOperation:F2} bytes/operation (at most {MaxGrowthBytesPerOperation} allowed)")
            .AppendLine($"main VmRSS: start {mainSamples[0].Kib} KiB, end {mainSamples[^1].Kib} KiB, slope after warm-up {Slope(mainSamples.Where(s => s.Seconds >= duration.TotalSeconds / 3).ToList()):F1} KiB/s");
        report.AppendLine("forwarder VmRSS samples (s:KiB): " + string.Join(' ', samples.Select(x => $"{x.Seconds:F1}:{x.Kib}")));
        foreach (var anomaly in workload.Anomalies.Take(20))
            report.AppendLine("  " + anomaly);
        output.WriteLine(FaultProfile.Report("soak", report.ToString()));

        Assert.Empty(workload.Anomalies);
        Assert.Equal(0, unanswered);
        Assert.DoesNotContain(verdicts, v => v.Verdict != Verdict.Linearizable);
        Assert.True(throughput >= MinOperationsPerSecond, $"only {throughput:F0} operations/s");
        Assert.True(perOperation <= MaxGrowthBytesPerOperation, $"forwarder RSS grows {perOperation:F2} bytes per operation once warm");
        Assert.False(forwarder.HasExited || main.HasExited);
    }

    /// <summary>0 once the process is gone; the test then fails on its exit, not on a sample.</summary>
    private static long ResidentKib(ServerProcess server)
    {
        try
        {
            return server.ResidentKib;
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
