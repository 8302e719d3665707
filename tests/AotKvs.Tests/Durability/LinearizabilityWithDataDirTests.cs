using System.Diagnostics;
using AotKvs.Tests.Linearizability;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.Durability;

/// <summary>
/// The linearizability run of Faults/, with main on a data dir: its SIGKILL restarts count as
/// ordinary crashes, not as a store that starts empty, so every acknowledged write (and every
/// value read) must survive them.
/// </summary>
[Collection(FaultsCollection.Name), Trait("Category", "Durability")]
public sealed class LinearizabilityWithDataDirTests(ITestOutputHelper output)
{
    [Fact]
    public async Task History_with_kills_of_a_durable_main_counted_as_crashes_is_linearizable()
    {
        using var dir = new DataDir();
        var duration = FaultProfile.Length(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(120));
        (string, string)[] env = [("KVS_DATA_DIR", dir.Path), ("KVS_COMPACT_MIN_BYTES", "4096")];
        var main = ServerProcess.StartMain(null, env);
        var forwarders = new[] { ServerProcess.StartForwarder(main.Address), ServerProcess.StartForwarder(main.Address) };
        var ports = new[] { main.Port, forwarders[0].Port, forwarders[1].Port };

        var plan = new WorkloadPlan(Clients: 8, Keys: 6, duration, MaxOpsPerClient: 2_000_000, OpTimeout: TimeSpan.FromSeconds(2), Seed: 11);
        var workload = new Workload(plan, client => [.. ports.Select((p, i) => new HttpKvsTarget(i == 0 ? "main" : $"forwarder{i}", p))]);
        using var nemesis = new Nemesis(main, forwarders, workload, restartDurableMain: port => ServerProcess.StartMain(port, env));

        await Task.WhenAll(workload.RunAsync(), nemesis.RunAsync(duration, quiet: TimeSpan.FromSeconds(2)));

        var clock = Stopwatch.StartNew();
        var history = workload.History;
        var verdicts = LinearizabilityChecker.Check(history, TimeSpan.FromSeconds(60));
        var report = LinearizabilityReport.Write(history, verdicts, workload.Anomalies, nemesis.Log, clock.Elapsed);
        output.WriteLine(FaultProfile.Report("linearizability-durable", report));

        Assert.Empty(workload.Anomalies);
        Assert.Contains(nemesis.Log, line => line.Contains("restarted on its data dir"));
        Assert.DoesNotContain(history, op => op.Kind == OpKind.Reset);
        Assert.DoesNotContain(verdicts, v => v.Verdict != Verdict.Linearizable);
        Assert.True(history.Count(op => op.Kind != OpKind.Reset && !op.IsIndeterminate) > 1000, "too few answered operations to mean anything");
    }
}
