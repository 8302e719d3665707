using System.Diagnostics;
using AotKvs.Tests.Linearizability;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.Faults;

/// <summary>
/// The project's linearizability workload through two mains over one 3-node etcd cluster,
/// while etcd's leader is killed and restarted, a follower frozen and a main killed and
/// restarted (its data is etcd's, so no reset is recorded): the history must be
/// linearizable, with no answer outside the SPEC, and every key read back the same through
/// both mains at the end.
/// </summary>
[Collection(FaultsCollection.Name), Trait("Category", "Faults")]
public sealed class EtcdLinearizabilityTests(ITestOutputHelper output)
{
    [Fact]
    public async Task History_through_two_mains_over_etcd_under_leader_kills_follower_freezes_and_main_kills_is_linearizable()
    {
        var duration = FaultProfile.Length(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(120));
        using var etcd = EtcdCluster.Start(nodes: 3);
        (string, string)[] env = [("KVS_STORE", etcd.StoreSetting)];
        var mains = new[] { ServerProcess.StartMain(env: env), ServerProcess.StartMain(env: env) };
        try
        {
            var ports = mains.Select(m => m.Port).ToArray();
            var plan = new WorkloadPlan(Clients: 8, Keys: 6, duration, MaxOpsPerClient: 2_000_000, OpTimeout: TimeSpan.FromSeconds(2), Seed: 11);
            var workload = new Workload(plan, client => [.. ports.Select((p, i) => new HttpKvsTarget($"main{i + 1}", p))]);
            var log = new List<string>();

            async Task Nemesis()
            {
                var quiet = TimeSpan.FromSeconds(2);
                var end = DateTime.UtcNow + duration;
                await Task.Delay(quiet);
                for (var i = 0; DateTime.UtcNow + quiet < end; i++)
                {
                    switch (i % 3)
                    {
                        case 0:
                            var leader = etcd.Leader(TimeSpan.FromSeconds(5));
                            etcd.Kill(leader);
                            await Task.Delay(1500);
                            etcd.Restart(leader);
                            log.Add($"etcd leader n{leader} killed, restarted 1.5 s later");
                            break;
                        case 1:
                            var follower = (etcd.Leader(TimeSpan.FromSeconds(5)) + 1) % etcd.Count;
                            etcd.Freeze(follower);
                            await Task.Delay(1500);
                            etcd.Thaw(follower);
                            log.Add($"etcd follower n{follower} frozen 1.5 s");
                            break;
                        default:
                            var which = i / 3 % 2;
                            var port = mains[which].Port;
                            mains[which].Kill();
                            mains[which].Dispose();
                            mains[which] = ServerProcess.StartMain(port, env);
                            log.Add($"main{which + 1} killed (SIGKILL) and restarted");
                            break;
                    }
                    await Task.Delay(quiet);
                }
            }

            await Task.WhenAll(workload.RunAsync(), Nemesis());

            var clock = Stopwatch.StartNew();
            var history = workload.History;
            var verdicts = LinearizabilityChecker.Check(history, TimeSpan.FromSeconds(60));
            var report = LinearizabilityReport.Write(history, verdicts, workload.Anomalies, log, clock.Elapsed);
            output.WriteLine(FaultProfile.Report("etcd-linearizability", report));

            Assert.Empty(workload.Anomalies);
            Assert.DoesNotContain(verdicts, v => v.Verdict != Verdict.Linearizable);
            Assert.True(history.Count(op => op.Kind != OpKind.Reset && !op.IsIndeterminate) > 500, "too few answered operations to mean anything");

            // The end state, read through both mains once the cluster is whole: the same answer for every key.
            etcd.WaitUntilServing(TimeSpan.FromSeconds(15));
            for (var k = 0; k < plan.Keys; k++)
            {
                var path = "/kvs/" + plan.KeyName(k);
                var first = await KvsHttp.GetAsync(mains[0].BaseUri, path);
                var second = await KvsHttp.GetAsync(mains[1].BaseUri, path);
                Assert.Equal((first.Status, first.Body), (second.Status, second.Body));
                Assert.Contains(first.Status, new[] { 200, 404 });
            }
        }
        finally
        {
            foreach (var main in mains)
                main.Dispose();
        }
    }

    [Fact]
    public async Task Negative_control_a_main_answering_reads_from_its_own_cache_is_reported()
    {
        using var etcd = EtcdCluster.Start();
        (string, string)[] env = [("KVS_STORE", etcd.StoreSetting)];
        using var first = ServerProcess.StartMain(env: env);
        using var second = ServerProcess.StartMain(env: env);
        using var cached = new CachingFront(first.BaseUri);
        var plan = new WorkloadPlan(Clients: 6, Keys: 3, TimeSpan.FromSeconds(4), MaxOpsPerClient: 2_000_000, OpTimeout: TimeSpan.FromSeconds(2), Seed: 12);
        var workload = new Workload(plan, client => [new HttpKvsTarget("main1-cached", cached.Port), new HttpKvsTarget("main2", second.Port)]);
        await workload.RunAsync();

        var verdicts = LinearizabilityChecker.Check(workload.History, TimeSpan.FromSeconds(60));
        output.WriteLine(LinearizabilityReport.Write(workload.History, verdicts, workload.Anomalies, [], TimeSpan.Zero));
        Assert.Contains(verdicts, v => v.Verdict == Verdict.Violation);
        Assert.Empty(workload.Anomalies); // every answer is one the SPEC allows: only the order gives it away
    }
}
