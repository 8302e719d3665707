using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>SPEC tables "GET /kvs/&lt;key&gt;" and "DELETE /kvs/&lt;key&gt;", through every instance.</summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed class GetDeleteSpecTests(Cluster cluster)
{
    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Get_existing_key_is_found_with_its_value(string target)
    {
        var path = "/kvs/" + UniqueKey();
        await PutValueAsync(cluster[target], path, """{"a": [1, "two"]}""");
        (await GetAsync(cluster[target], path)).ShouldBe(200, """{"result": "found", "value": {"a": [1, "two"]}}""");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Get_missing_key_is_404(string target)
    {
        (await GetAsync(cluster[target], "/kvs/" + UniqueKey())).ShouldBe(404, Expected.KeyNotFound);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Delete_existing_key_is_deleted_then_gone(string target)
    {
        var path = "/kvs/" + UniqueKey();
        await PutValueAsync(cluster[target], path, "1");
        (await DeleteAsync(cluster[target], path)).ShouldBe(200, Expected.Deleted);
        (await GetAsync(cluster[target], path)).ShouldBe(404, Expected.KeyNotFound);
        (await DeleteAsync(cluster[target], path)).ShouldBe(404, Expected.KeyNotFound);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Delete_missing_key_is_404(string target)
    {
        (await DeleteAsync(cluster[target], "/kvs/" + UniqueKey())).ShouldBe(404, Expected.KeyNotFound);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Key_deleted_then_put_again_is_created(string target)
    {
        var path = "/kvs/" + UniqueKey();
        await PutValueAsync(cluster[target], path, "1");
        await DeleteAsync(cluster[target], path);
        (await PutValueAsync(cluster[target], path, "2")).ShouldBe(201, Expected.Created);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Get_of_a_key_longer_than_allowed_is_404(string target)
    {
        (await GetAsync(cluster[target], "/kvs/" + new string('k', 5_000))).ShouldBe(404, Expected.KeyNotFound);
    }

    /// <summary>
    /// One store behind every instance: a value written through any one of them (each in
    /// turn, the last one first) is read back through all of them, and a delete through
    /// any one of them is seen by all.
    /// </summary>
    [Fact]
    public async Task Every_instance_sees_the_same_data()
    {
        var names = cluster.Targets.Keys.ToArray();
        foreach (var deleter in names)
        {
            var path = "/kvs/" + UniqueKey();
            var first = true;
            foreach (var writer in names.Reverse())
            {
                var value = $$"""{"via": "{{writer}}"}""";
                (await PutValueAsync(cluster[writer], path, value)).ShouldBe(first ? 201 : 200, first ? Expected.Created : Expected.Replaced);
                first = false;
                foreach (var reader in names)
                    (await GetAsync(cluster[reader], path)).ShouldBe(200, $$"""{"result": "found", "value": {{value}}}""");
            }
            (await DeleteAsync(cluster[deleter], path)).ShouldBe(200, Expected.Deleted);
            foreach (var reader in names)
                (await GetAsync(cluster[reader], path)).ShouldBe(404, Expected.KeyNotFound);
        }
    }
}
