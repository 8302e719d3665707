using AotKvs.Tests.Linearizability;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.Processes;

/// <summary>
/// The proof over real sockets can fail: the workload, driven through a real forwarder (the
/// published binary) to a main that breaks linearizability but answers exactly as the SPEC
/// words it, is reported as a violation; and answers out of place, read straight from the
/// stand-in, are anomalies.
/// </summary>
[Trait("Category", "Processes")]
public sealed class HttpNegativeControlTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(MainFlaw.AcknowledgesBeforeApplying)]
    [InlineData(MainFlaw.ServesStaleReads)]
    public async Task A_broken_main_behind_a_forwarder_is_reported(MainFlaw flaw)
    {
        var (workload, verdicts) = await RunAsync(flaw);
        Assert.Contains(verdicts, v => v.Verdict == Verdict.Violation);
        Assert.DoesNotContain(verdicts, v => v.Verdict == Verdict.OutOfBudget);
        Assert.Empty(workload.Anomalies); // every answer is one the SPEC allows: only the order gives it away
    }

    [Fact]
    public async Task The_same_stand_in_without_its_flaw_passes()
    {
        var (workload, verdicts) = await RunAsync(MainFlaw.None);
        Assert.All(verdicts, v => Assert.Equal(Verdict.Linearizable, v.Verdict));
        Assert.Empty(workload.Anomalies);
    }

    [Fact]
    public async Task Answers_out_of_place_are_anomalies()
    {
        using var main = new BrokenMain(MainFlaw.AnswersOutOfPlace);
        var plan = new WorkloadPlan(Clients: 4, Keys: 3, TimeSpan.FromSeconds(1), MaxOpsPerClient: 300, OpTimeout: TimeSpan.FromSeconds(2), Seed: 6);
        var workload = new Workload(plan, _ => [new HttpKvsTarget("stand-in", main.Port)]);
        await workload.RunAsync();

        Assert.Contains(workload.Anomalies, a => a.Contains("Get answered 201", StringComparison.Ordinal));
        Assert.Contains(workload.Anomalies, a => a.Contains("garbled answer head: HTTP/1.1 2OO OK", StringComparison.Ordinal));
    }

    private async Task<(Workload, IReadOnlyList<KeyVerdict>)> RunAsync(MainFlaw flaw)
    {
        using var main = new BrokenMain(flaw);
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        var plan = new WorkloadPlan(Clients: 8, Keys: 3, TimeSpan.FromSeconds(2), MaxOpsPerClient: 5_000, OpTimeout: TimeSpan.FromSeconds(2), Seed: 5);
        var workload = new Workload(plan, _ => [new HttpKvsTarget("forwarder", forwarder.Port)]);
        await workload.RunAsync();

        var verdicts = LinearizabilityChecker.Check(workload.History, CheckLimits.Default);
        output.WriteLine(LinearizabilityReport.Write(workload.History, verdicts, workload.Anomalies, [flaw.ToString()], TimeSpan.Zero));

        Assert.True(workload.History.Count(op => !op.IsIndeterminate) > 200, $"only {workload.History.Count} operations");
        return (workload, verdicts);
    }
}
