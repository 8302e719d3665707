using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Processes;

/// <summary>
/// Mains over one etcd cluster agree on tags (the cluster's id and the key's mod_revision),
/// and a conditional PUT is one transaction: of concurrent PUTs with one tag, sent through
/// two mains, exactly one succeeds.
/// </summary>
[Collection(TimingCollection.Name), Trait("Category", "Processes")]
public sealed class EtcdTagTests
{
    private static Task<KvsAnswer> Put(ServerProcess main, string key, string value, params (string, string)[] headers) =>
        SendAsync(main.BaseUri, "PUT", "/kvs/" + key, $$"""{"value": {{value}}}""", headers: headers);

    private static string? Tag(KvsAnswer answer) => answer.Headers.ETag?.ToString();

    private static async Task<ServerProcess> StartReady(EtcdCluster etcd)
    {
        var main = ServerProcess.StartMain(env: [("KVS_STORE", etcd.StoreSetting)]);
        Assert.True(await Poll.UntilAsync(async () => (await GetAsync(main.BaseUri, "/readyz")).Status == 200, TimeSpan.FromSeconds(15)), main.Output);
        return main;
    }

    [Fact]
    public async Task Two_mains_over_one_cluster_give_the_same_tag_and_honour_each_others()
    {
        using var etcd = EtcdCluster.Start();
        using var one = await StartReady(etcd);
        using var two = await StartReady(etcd);
        var written = await Put(one, "shared", "[1]");
        Assert.Equal(201, written.Status);
        Assert.Matches("^\"[0-9a-f]{16}-[0-9a-f]+\"$", Tag(written));
        Assert.Equal(Tag(written), Tag(await GetAsync(two.BaseUri, "/kvs/shared")));

        var next = await Put(two, "shared", "[2]", ("If-Match", Tag(written)!));
        Assert.Equal(200, next.Status);
        Assert.Equal(Tag(next), Tag(await GetAsync(one.BaseUri, "/kvs/shared")));
        var stale = await Put(one, "shared", "[3]", ("If-Match", Tag(written)!));
        Assert.Equal(412, stale.Status);
        Assert.Equal(Tag(next), Tag(stale));
        Assert.Equal(412, (await Put(two, "shared", "[3]", ("If-None-Match", "*"))).Status);
    }

    [Fact]
    public async Task Of_16_concurrent_conditional_puts_with_one_tag_through_two_mains_exactly_one_succeeds()
    {
        using var etcd = EtcdCluster.Start();
        using var one = await StartReady(etcd);
        using var two = await StartReady(etcd);
        ServerProcess[] mains = [one, two];
        for (var round = 0; round < 5; round++)
        {
            var basis = Tag(await Put(one, "k", $"{round}"))!;
            var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Put(mains[i % 2], "k", $"{i}", ("If-Match", basis))));
            var winner = Assert.Single(answers, a => a.Status == 200);
            Assert.All(answers.Where(a => a != winner), a =>
            {
                Assert.Equal(412, a.Status);
                Assert.Equal(Tag(winner), Tag(a));
            });
        }
    }
}
