using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>Each PUT and DELETE outcome is decided atomically, on main and through forwarders.</summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed class ConcurrencyTests(Cluster cluster)
{
    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Concurrent_puts_of_one_new_key_create_it_exactly_once(string target)
    {
        var path = "/kvs/" + UniqueKey();
        var answers = await Task.WhenAll(Enumerable.Range(0, 32).Select(i => PutValueAsync(cluster[target], path, i.ToString())));
        Assert.Equal(1, answers.Count(a => a.Status == 201));
        Assert.Equal(31, answers.Count(a => a.Status == 200));
    }

    [Fact]
    public async Task Concurrent_deletes_of_one_key_delete_it_exactly_once()
    {
        var names = cluster.Targets.Keys.ToArray();
        for (var round = 0; round < 10; round++)
        {
            var path = "/kvs/" + UniqueKey();
            await PutValueAsync(cluster[names[0]], path, "1");
            var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => DeleteAsync(cluster[names[i % names.Length]], path)));
            Assert.Equal(1, answers.Count(a => a.Status == 200));
            Assert.Equal(15, answers.Count(a => a.Status == 404));
        }
    }

    [Fact]
    public async Task Racing_puts_and_deletes_leave_outcomes_that_add_up()
    {
        // Every created is matched by at most one deleted, and what remains explains the rest.
        var names = cluster.Targets.Keys.ToArray();
        var path = "/kvs/" + UniqueKey();
        var ops = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => i % 2 == 0
            ? PutValueAsync(cluster[names[i % names.Length]], path, i.ToString())
            : DeleteAsync(cluster[names[i % names.Length]], path)));
        var created = ops.Count(a => a.Status == 201);
        var deleted = ops.Count(a => a.Status == 200 && a.Body.Contains("deleted"));
        var exists = (await GetAsync(cluster[names[0]], path)).Status == 200 ? 1 : 0;
        Assert.Equal(created, deleted + exists);
    }
}
