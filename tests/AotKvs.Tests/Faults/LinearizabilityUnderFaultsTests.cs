using AotKvs.Tests.Linearizability;
using System.Diagnostics;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.Faults;

/// <summary>
/// Main and two forwarders, eight clients spread over all three on a few keys, faults
/// injected throughout; the recorded history must be linearizable, with no answer outside
/// the SPEC.
/// </summary>
[Collection(FaultsCollection.Name), Trait("Category", "Faults")]
public sealed class LinearizabilityUnderFaultsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task History_under_kills_freezes_and_forwarder_restarts_is_linearizable()
    {
        var duration = FaultProfile.Length(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(120));
        var main = ServerProcess.StartMain();
        var forwarders = new[] { ServerProcess.StartForwarder(main.Address), ServerProcess.StartForwarder(main.Address) };
        var ports = new[] { main.Port, forwarders[0].Port, forwarders[1].Port };

        var plan = new WorkloadPlan(Clients: 8, Keys: 6, duration, MaxOpsPerClient: 2_000_000, OpTimeout: TimeSpan.FromSeconds(2), Seed: 7);
        var workload = new Workload(plan, client => [.. ports.Select((p, i) => new HttpKvsTarget(i == 0 ? "main" : $"forwarder{i}", p))]);
        using var nemesis = new Nemesis(main, forwarders, workload);

        await Task.WhenAll(workload.RunAsync(), nemesis.RunAsync(duration, quiet: TimeSpan.FromSeconds(2)));

        var clock = Stopwatch.StartNew();
        var history = workload.History;
        var verdicts = LinearizabilityChecker.Check(history, TimeSpan.FromSeconds(60));
        var report = LinearizabilityReport.Write(history, verdicts, workload.Anomalies, nemesis.Log, clock.Elapsed);
        output.WriteLine(FaultProfile.Report("linearizability", report));

        Assert.Empty(workload.Anomalies);
        Assert.DoesNotContain(verdicts, v => v.Verdict != Verdict.Linearizable);
        Assert.True(history.Count(op => op.Kind != OpKind.Reset && !op.IsIndeterminate) > 1000, "too few answered operations to mean anything");
    }
}
