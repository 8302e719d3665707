using System.Diagnostics;
using System.Globalization;
using System.Text;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.Linearizability;

/// <summary>
/// The checker's time and memory per operation at three history sizes, on generated
/// histories of a correct register and of one with five planted violations. Run by
/// scripts/checker-bench.sh (KVS_CHECKER_BENCH=1), which writes the table to bench/checker.md.
/// Memory is the managed heap, sampled every millisecond: the history's own, and the peak
/// the check adds on top of it.
/// </summary>
[Trait("Category", "Benchmark")]
public sealed class CheckerBenchmark(ITestOutputHelper output)
{
    private sealed class BenchFactAttribute : FactAttribute
    {
        public BenchFactAttribute()
        {
            if (Environment.GetEnvironmentVariable("KVS_CHECKER_BENCH") != "1")
                Skip = "benchmark: scripts/checker-bench.sh";
        }
    }

    [BenchFact]
    public void Time_and_memory_per_operation()
    {
        var sizes = (Environment.GetEnvironmentVariable("KVS_CHECKER_BENCH_SIZES") ?? "50000,500000,2000000")
            .Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture));
        var table = new StringBuilder()
            .AppendLine("| operations | history | check time | time per op | history heap per op | check's peak heap per op | violations found |")
            .AppendLine("|---:|---|---:|---:|---:|---:|---:|");
        LinearizabilityChecker.Check(HistoryGenerator.Generate(20_000, seed: 1), CheckLimits.Default); // warm-up: JIT, tiering
        foreach (var size in sizes)
            foreach (var broken in new[] { false, true })
                table.AppendLine(Row(size, broken));
        table.AppendLine().AppendLine($"Test process peak resident memory over the whole run: {LinearizabilityReport.PeakResidentMemory()}.");
        var dir = Path.Combine(ServerProcess.RepoRoot, "artifacts");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "checker-bench.md"), table.ToString());
        output.WriteLine(table.ToString());
    }

    private static string Row(int size, bool broken)
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var plants = broken ? Enum.GetValues<Plant>() : [];
        var history = HistoryGenerator.Generate(size, seed: 11, plants);
        var held = GC.GetTotalMemory(forceFullCollection: true);

        long peak = held;
        var done = false;
        var sampler = new Thread(() =>
        {
            while (!Volatile.Read(ref done))
            {
                peak = Math.Max(peak, GC.GetTotalMemory(false));
                Thread.Sleep(1);
            }
        });
        sampler.Start();
        var clock = Stopwatch.StartNew();
        var verdicts = LinearizabilityChecker.Check(history, CheckLimits.Default);
        var time = clock.Elapsed;
        Volatile.Write(ref done, true);
        sampler.Join();

        var violations = verdicts.Count(v => v.Verdict == Verdict.Violation);
        Assert.DoesNotContain(verdicts, v => v.Verdict == Verdict.OutOfBudget);
        Assert.Equal(plants.Length, violations);
        var ops = history.Count;
        GC.KeepAlive(history);
        return string.Create(CultureInfo.InvariantCulture,
            $"| {ops:N0} | {(broken ? "5 planted violations" : "correct")} | {time.TotalSeconds:F2} s | {time.TotalMicroseconds / ops:F2} µs " +
            $"| {(held - before) / ops} B | {(peak - held) / ops} B | {violations} |");
    }
}
