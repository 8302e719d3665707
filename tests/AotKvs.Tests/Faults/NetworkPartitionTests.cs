using System.Diagnostics;
using AotKvs.Tests.Linearizability;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Faults;

/// <summary>
/// Main in its own network namespace, cut off for real (packets dropped both ways), as a
/// stopped container's address looks to a forwarder: silence, not refusal.
/// </summary>
[Collection(FaultsCollection.Name), Trait("Category", "Faults")]
public sealed class NetworkPartitionTests(ITestOutputHelper output)
{

    [NetworkFact]
    public async Task Main_cut_off_gives_503_within_the_bound_and_the_first_request_after_healing_succeeds()
    {
        using var network = new NetworkNamespace();
        using var main = ServerProcess.StartMainIn(network, 8090);
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        (await PutValueAsync(forwarder.BaseUri, "/kvs/a", "1")).ShouldBe(201, Expected.Created);

        network.Cut();
        // Twice: once on the pooled connection (no answer), once on a new one (no SYN-ACK).
        for (var i = 0; i < 2; i++)
        {
            var (answer, elapsed) = ForwardBound.TimedGet(forwarder.Port, "/kvs/a");
            answer.ShouldBe(503, Expected.CannotForward);
            ForwardBound.AtTheBound(elapsed, ForwardBound.Default, i == 0 ? "pooled connection: " : "new connection: ");
        }

        network.Heal();
        (await GetAsync(forwarder.BaseUri, "/kvs/a")).ShouldBe(200, """{"result": "found", "value": 1}""");
    }

    /// <summary>
    /// 20 s in CI (a cut, a freeze and a kill of main, with quiet spells between), 120 s in
    /// the long form (scripts/faults.sh --long).
    /// </summary>
    [NetworkFact]
    public async Task History_under_network_cuts_kills_and_restarts_is_linearizable()
    {
        var duration = FaultProfile.Length(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(120));
        using var network = new NetworkNamespace();
        var main = ServerProcess.StartMainIn(network, 8090);
        var forwarders = new[] { ServerProcess.StartForwarder(main.Address), ServerProcess.StartForwarder(main.Address) };

        var plan = new WorkloadPlan(Clients: 8, Keys: 6, duration, MaxOpsPerClient: 2_000_000, OpTimeout: TimeSpan.FromSeconds(2), Seed: 11);
        var workload = new Workload(plan, _ =>
        [
            new HttpKvsTarget("main", main.Port, network.InsideAddress),
            new HttpKvsTarget("forwarder1", forwarders[0].Port),
            new HttpKvsTarget("forwarder2", forwarders[1].Port),
        ]);
        using var nemesis = new Nemesis(main, forwarders, workload, network);
        await Task.WhenAll(workload.RunAsync(), nemesis.RunAsync(duration, quiet: TimeSpan.FromSeconds(3)));

        var clock = Stopwatch.StartNew();
        var verdicts = LinearizabilityChecker.Check(workload.History, TimeSpan.FromSeconds(120));
        output.WriteLine(FaultProfile.Report("linearizability-netns",
            LinearizabilityReport.Write(workload.History, verdicts, workload.Anomalies, nemesis.Log, clock.Elapsed)));

        Assert.Empty(workload.Anomalies);
        Assert.DoesNotContain(verdicts, v => v.Verdict != Verdict.Linearizable);
    }
}
