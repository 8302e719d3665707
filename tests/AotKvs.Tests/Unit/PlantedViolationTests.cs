using AotKvs.Tests.Linearizability;
using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The checker at scale: a generated million-operation history of a correct register passes;
/// the same history with five violations planted (one each) fails on exactly those five keys,
/// and each report names a window of a few operations that holds the wrong answer.
/// </summary>
[Trait("Category", "Unit")]
public sealed class PlantedViolationTests(ITestOutputHelper output)
{
    private const int Operations = 1_000_000;

    [Fact]
    public void A_correct_million_operation_history_passes()
    {
        var history = HistoryGenerator.Generate(Operations, seed: 3);
        var clock = Stopwatch.StartNew();
        var verdicts = LinearizabilityChecker.Check(history, CheckLimits.Default);
        output.WriteLine($"{history.Count} operations checked in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.All(verdicts, v => Assert.True(v.Verdict == Verdict.Linearizable, LinearizabilityReport.Describe(v)));
        Assert.Contains(history, op => op.IsIndeterminate);
        Assert.Contains(history, op => op.Kind == OpKind.Reset);
    }

    [Fact]
    public void Each_planted_violation_is_found_with_its_window()
    {
        var plants = Enum.GetValues<Plant>();
        var history = HistoryGenerator.Generate(Operations, seed: 3, plants);
        var verdicts = LinearizabilityChecker.Check(history, CheckLimits.Default);

        foreach (var v in verdicts.Where(v => v.Verdict != Verdict.Linearizable))
            output.WriteLine(LinearizabilityReport.Describe(v));
        foreach (var plant in plants)
        {
            var verdict = Assert.Single(verdicts, v => v.Key == HistoryGenerator.KeyName((int)plant));
            Assert.Equal(Verdict.Violation, verdict.Verdict);
            Assert.InRange(verdict.Window.Count, 2, 12);
            Assert.All(verdict.Window, op => Assert.Equal(HistoryGenerator.PlantClient, op.Client));
            Assert.Equal(HistoryGenerator.PlantClient, verdict.Stuck?.Client);
        }
        Assert.Equal(plants.Length, verdicts.Count(v => v.Verdict != Verdict.Linearizable));
    }
}
