using System.Collections.Concurrent;
using System.Diagnostics;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Faults;

/// <summary>
/// Two mains over one 3-node etcd cluster (real processes, each main given every endpoint):
/// members killed and frozen while writes go on through both mains. What a main acknowledged
/// must be there afterwards, read through either main.
/// </summary>
[Collection(FaultsCollection.Name), Trait("Category", "Faults")]
public sealed class EtcdClusterFaultTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Leader_killed_and_restarted_under_writes_through_two_mains_loses_no_acknowledged_write()
    {
        using var etcd = EtcdCluster.Start(nodes: 3);
        using var first = ServerProcess.StartMain(env: [("KVS_STORE", etcd.StoreSetting)]);
        using var second = ServerProcess.StartMain(env: [("KVS_STORE", etcd.StoreSetting)]);
        var mains = new[] { first.BaseUri, second.BaseUri };
        // Each acknowledged key and the values it may hold: a 503 leaves a write's outcome unknown.
        var acknowledged = new ConcurrentDictionary<string, string[]>();
        var refused = 0;
        var clock = Stopwatch.StartNew();

        // Four writers, each its own keys, each key written twice (created, then replaced):
        // the second write's answer also tells whether the first one is still there.
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; clock.Elapsed < TimeSpan.FromSeconds(6) && i < 100_000; i++)
            {
                var key = $"w{w}-{i}";
                var main = mains[(w + i) % 2];
                if ((await PutValueAsync(main, "/kvs/" + key, i.ToString())).Status != 201)
                {
                    Interlocked.Increment(ref refused);
                    continue;
                }
                acknowledged[key] = [i.ToString()];
                var again = await PutValueAsync(mains[(w + i + 1) % 2], "/kvs/" + key, $"\"{i}\"");
                if (again.Status == 200)
                {
                    acknowledged[key] = [$"\"{i}\""];
                }
                else if (again.Status == 503)
                {
                    acknowledged[key] = [i.ToString(), $"\"{i}\""];
                    Interlocked.Increment(ref refused);
                }
                else
                {
                    Assert.Fail($"{key} written and acknowledged, then its second write answered {again.Status} {again.Body}");
                }
            }
        })).ToArray();

        await Task.Delay(1500);
        var leader = etcd.Leader(TimeSpan.FromSeconds(5));
        etcd.Kill(leader);
        var killedAt = clock.Elapsed;
        await Task.Delay(2000);
        etcd.Restart(leader);
        await Task.WhenAll(writers);
        etcd.WaitUntilServing(TimeSpan.FromSeconds(15));

        output.WriteLine($"leader n{leader} killed at {killedAt.TotalSeconds:F1} s; {acknowledged.Count} keys acknowledged, {refused} writes refused with 503");
        Assert.True(acknowledged.Count > 100, $"only {acknowledged.Count} writes acknowledged");

        var lost = new List<string>();
        foreach (var main in mains)
            foreach (var (key, values) in acknowledged)
            {
                var read = await GetAsync(main, "/kvs/" + key);
                if (read.Status != 200 || !values.Any(value => read.Body.EndsWith($"\"value\":{value}}}", StringComparison.Ordinal)))
                    lost.Add($"{main.Port} {key}: expected {string.Join(" or ", values)}, read {read.Status} {read.Body}");
            }
        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged writes lost or changed, e.g.\n{string.Join('\n', lost.Take(10))}");
    }

    [Fact]
    public async Task A_follower_killed_first_in_the_endpoint_list_costs_no_request()
    {
        using var etcd = EtcdCluster.Start(nodes: 3);
        var leader = etcd.Leader(TimeSpan.FromSeconds(10));
        var follower = (leader + 1) % 3;
        // The follower first: main talks to it until it fails, then moves on.
        var order = new[] { follower, (follower + 1) % 3, (follower + 2) % 3 };
        var store = "etcd://" + string.Join(',', order.Select(i => etcd.ClientUri(i).Authority));
        using var main = ServerProcess.StartMain(env: [("KVS_STORE", store)]);
        (await PutValueAsync(main.BaseUri, "/kvs/a", "1")).ShouldBe(201, Expected.Created);

        etcd.Kill(follower);
        for (var i = 0; i < 50; i++)
        {
            (await PutValueAsync(main.BaseUri, $"/kvs/k{i}", i.ToString())).ShouldBe(201, Expected.Created);
            (await GetAsync(main.BaseUri, $"/kvs/k{i}")).ShouldBe(200, $$"""{"result": "found", "value": {{i}}}""");
        }
        Assert.Contains($"etcd endpoint {etcd.ClientUri(follower).Authority}", main.Output);
        Assert.True(await Poll.UntilAsync(async () => (await GetAsync(main.BaseUri, "/readyz")).Status == 200, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_follower_frozen_first_in_the_endpoint_list_costs_at_most_one_bound_then_main_moves_on()
    {
        using var etcd = EtcdCluster.Start(nodes: 3);
        var leader = etcd.Leader(TimeSpan.FromSeconds(10));
        var follower = (leader + 1) % 3;
        var order = new[] { follower, (follower + 1) % 3, (follower + 2) % 3 };
        var store = "etcd://" + string.Join(',', order.Select(i => etcd.ClientUri(i).Authority));
        using var main = ServerProcess.StartMain(env: [("KVS_STORE", store), ("KVS_READY_PROBE_MS", "60000")]);
        (await PutValueAsync(main.BaseUri, "/kvs/a", "1")).ShouldBe(201, Expected.Created);

        etcd.Freeze(follower);
        try
        {
            // The first request waits out the bound on the frozen member and gets 503; main
            // then starts at the next member, so the rest are served.
            var (first, elapsed) = ForwardBound.TimedGet(main.Port, "/kvs/a");
            first.ShouldBe(503, Expected.StoreUnavailable);
            ForwardBound.AtTheBound(elapsed, TimeSpan.FromMilliseconds(1000), "frozen member: ");
            for (var i = 0; i < 20; i++)
            {
                (await PutValueAsync(main.BaseUri, $"/kvs/k{i}", i.ToString())).ShouldBe(201, Expected.Created);
                (await GetAsync(main.BaseUri, $"/kvs/k{i}")).ShouldBe(200, $$"""{"result": "found", "value": {{i}}}""");
            }
            Assert.Contains($"etcd endpoint {etcd.ClientUri(follower).Authority}: no answer within 1000 ms", main.Output);
        }
        finally
        {
            etcd.Thaw(follower);
        }
    }

    [Fact]
    public async Task Quorum_lost_gives_503_within_the_bound_and_not_ready_and_quorum_back_resumes()
    {
        using var etcd = EtcdCluster.Start(nodes: 3);
        using var main = ServerProcess.StartMain(env: [("KVS_STORE", etcd.StoreSetting)]);
        (await PutValueAsync(main.BaseUri, "/kvs/a", "1")).ShouldBe(201, Expected.Created);

        etcd.Kill(1);
        etcd.Kill(2);
        var (answer, elapsed) = ForwardBound.TimedGet(main.Port, "/kvs/a");
        answer.ShouldBe(503, Expected.StoreUnavailable);
        ForwardBound.WithinTheBound(elapsed, TimeSpan.FromMilliseconds(1000), "no quorum: ");
        Assert.True(await Poll.UntilAsync(async () => (await GetAsync(main.BaseUri, "/readyz")).Status == 503, TimeSpan.FromSeconds(5)));

        etcd.Restart(1);
        etcd.Restart(2);
        Assert.True(await Poll.UntilAsync(async () => (await GetAsync(main.BaseUri, "/readyz")).Status == 200, TimeSpan.FromSeconds(20)), main.Output);
        (await GetAsync(main.BaseUri, "/kvs/a")).ShouldBe(200, """{"result": "found", "value": 1}""");
    }
}
