using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AotKvs.Configuration;
using AotKvs.Storage;
using AotKvs.Storage.Etcd;
using AotKvs.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace AotKvs.Tests.Processes;

/// <summary>
/// The etcd store's versions and conditional writes, called in process (IKeyValueStore)
/// against a real etcd: the version is the key's mod_revision, the scope the cluster's id,
/// and a conditional PUT or DELETE is one transaction, so two writes with the same version
/// never both succeed.
/// </summary>
[Collection(TimingCollection.Name), Trait("Category", "Processes")]
public sealed class EtcdConditionalTests : IDisposable
{
    private static readonly ReadOnlyMemory<byte> Key = "k"u8.ToArray();

    private readonly EtcdCluster _etcd = EtcdCluster.Start();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly List<EtcdChannel> _channels = [];

    public void Dispose()
    {
        foreach (var channel in _channels)
            channel.Dispose();
        _services.Dispose();
        _etcd.Dispose();
    }

    private EtcdStore NewStore()
    {
        var settings = new StoreSettings([_etcd.ClientUri(0)], "/t/", TimeSpan.FromSeconds(5), 64, null, null, null, null, null);
        var channel = new EtcdChannel(settings, new EtcdMetrics(_services.GetRequiredService<IMeterFactory>()), NullLogger<EtcdChannel>.Instance);
        _channels.Add(channel);
        return new EtcdStore(channel, "/t/"u8.ToArray());
    }

    private static ReadOnlyMemory<byte> V(string json) => Encoding.UTF8.GetBytes(json);

    private static Precondition IfMatch(params ulong[] versions) => new(VersionSet.Of(versions), default);

    private static Precondition IfNoneMatch(params ulong[] versions) => new(default, VersionSet.Of(versions));

    private static readonly Precondition IfMatchAny = new(VersionSet.AnyVersion, default);
    private static readonly Precondition IfNoneMatchAny = new(default, VersionSet.AnyVersion);

    /// <summary>What etcd itself says (its JSON gateway): the key's mod_revision and the cluster's id.</summary>
    private (long ModRevision, ulong ClusterId) Etcd(string key)
    {
        using var range = JsonDocument.Parse(_etcd.Call(0, "/v3/kv/range", new { key = EtcdCluster.Base64("/t/" + key) }));
        var root = range.RootElement;
        var clusterId = ulong.Parse(root.GetProperty("header").GetProperty("cluster_id").GetString()!, CultureInfo.InvariantCulture);
        var modRevision = root.TryGetProperty("kvs", out var kvs) ? long.Parse(kvs[0].GetProperty("mod_revision").GetString()!, CultureInfo.InvariantCulture) : 0;
        return (modRevision, clusterId);
    }

    private static async Task Probe(EtcdStore store) => await store.ProbeAsync(CancellationToken.None);

    [Fact]
    public async Task The_version_is_the_mod_revision_and_the_scope_the_cluster_id()
    {
        var store = NewStore();
        Assert.Null(store.VersionScope);
        await Probe(store);
        var (_, clusterId) = Etcd("k");
        Assert.Equal(clusterId.ToString("x16", CultureInfo.InvariantCulture), store.VersionScope);
        Assert.Matches("^[0-9a-f]{16}$", store.VersionScope);

        var created = await store.PutAsync(Key, V("1"), Precondition.None, default);
        Assert.Equal(WriteOutcome.Created, created.Outcome);
        Assert.Equal((ulong)Etcd("k").ModRevision, created.Version);
        var replaced = await store.PutAsync(Key, V("2"), Precondition.None, default);
        Assert.Equal(WriteOutcome.Replaced, replaced.Outcome);
        Assert.True(replaced.Version > created.Version);

        var read = await store.GetAsync(Key, default);
        Assert.Equal(replaced.Version, read.Version);
        Assert.Equal("2", Encoding.UTF8.GetString(read.Json.Span));
        Assert.Equal(0UL, (await store.GetAsync(V("absent"), default)).Version);
    }

    [Fact]
    public async Task Two_stores_over_one_cluster_give_the_same_scope_and_version_for_a_value()
    {
        var one = NewStore();
        var two = NewStore();
        var written = await one.PutAsync(Key, V("[1]"), Precondition.None, default);
        var read = await two.GetAsync(Key, default);
        Assert.Equal(one.VersionScope, two.VersionScope);
        Assert.Equal(written.Version, read.Version);

        // A version one store gave is honoured by the other.
        var next = await two.PutAsync(Key, V("[2]"), IfMatch(read.Version), default);
        Assert.Equal(WriteOutcome.Replaced, next.Outcome);
        Assert.Equal(next.Version, (await one.GetAsync(Key, default)).Version);
    }

    [Fact]
    public async Task A_conditional_write_before_the_cluster_has_answered_is_refused_as_unavailable()
    {
        var store = NewStore();
        var refusal = await Assert.ThrowsAsync<StoreException>(async () => await store.PutAsync(Key, V("1"), IfNoneMatchAny, default));
        Assert.Equal(StoreFailure.Unavailable, refusal.Failure);
        Assert.Equal(0, Etcd("k").ModRevision);
        await Probe(store);
        Assert.Equal(WriteOutcome.Created, (await store.PutAsync(Key, V("1"), IfNoneMatchAny, default)).Outcome);
    }

    [Fact]
    public async Task If_none_match_star_creates_only_and_if_match_star_replaces_only()
    {
        var store = NewStore();
        await Probe(store);
        var refused = await store.PutAsync(Key, V("0"), IfMatchAny, default);
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, 0), refused);
        Assert.Equal(0, Etcd("k").ModRevision);

        var created = await store.PutAsync(Key, V("1"), IfNoneMatchAny, default);
        Assert.Equal(WriteOutcome.Created, created.Outcome);
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, created.Version), await store.PutAsync(Key, V("2"), IfNoneMatchAny, default));

        var replaced = await store.PutAsync(Key, V("3"), IfMatchAny, default);
        Assert.Equal(WriteOutcome.Replaced, replaced.Outcome);
        Assert.Equal((ulong)Etcd("k").ModRevision, replaced.Version);
        Assert.Equal("3", Encoding.UTF8.GetString((await store.GetAsync(Key, default)).Json.Span));
    }

    [Fact]
    public async Task If_match_with_the_current_version_writes_and_with_an_old_one_fails_naming_the_current()
    {
        var store = NewStore();
        var first = await store.PutAsync(Key, V("1"), Precondition.None, default);
        var second = await store.PutAsync(Key, V("2"), IfMatch(first.Version), default);
        Assert.Equal(WriteOutcome.Replaced, second.Outcome);
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, second.Version), await store.PutAsync(Key, V("3"), IfMatch(first.Version), default));
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, second.Version), await store.PutAsync(Key, V("3"), IfMatch(), default)); // only foreign tags
        Assert.Equal("2", Encoding.UTF8.GetString((await store.GetAsync(Key, default)).Json.Span));

        // A list: the newest tag named is tried first; here it is not the key's, the older one is.
        var third = await store.PutAsync(Key, V("3"), IfMatch(first.Version, second.Version, second.Version + 1000), default);
        Assert.Equal(WriteOutcome.Replaced, third.Outcome);
        Assert.Equal((ulong)Etcd("k").ModRevision, third.Version);
    }

    [Fact]
    public async Task If_none_match_with_tags_fails_only_on_the_current_version_even_past_the_compare_limit()
    {
        var store = NewStore();
        var first = await store.PutAsync(Key, V("1"), Precondition.None, default);
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, first.Version), await store.PutAsync(Key, V("2"), IfNoneMatch(first.Version + 5, first.Version), default));
        var second = await store.PutAsync(Key, V("2"), IfNoneMatch(first.Version + 5), default);
        Assert.Equal(WriteOutcome.Replaced, second.Outcome);

        var many = Enumerable.Range(1, EtcdConditional.MostCompares + 10).Select(i => second.Version + (ulong)i).ToArray();
        Assert.Equal(WriteOutcome.Replaced, (await store.PutAsync(Key, V("3"), IfNoneMatch(many), default)).Outcome);
        var current = (await store.GetAsync(Key, default)).Version;
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, current), await store.PutAsync(Key, V("4"), IfNoneMatch([.. many, current]), default));

        // If-Match and If-None-Match together: the tag both name cannot hold.
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, current), await store.PutAsync(Key, V("5"), new Precondition(VersionSet.Of([current]), VersionSet.Of([current])), default));
        Assert.Equal(WriteOutcome.Replaced, (await store.PutAsync(Key, V("5"), new Precondition(VersionSet.AnyVersion, VersionSet.Of([current + 1])), default)).Outcome);
    }

    [Fact]
    public async Task A_conditional_delete_deletes_on_its_version_fails_on_another_and_finds_nothing_on_an_absent_key()
    {
        var store = NewStore();
        await Probe(store);
        Assert.Equal(WriteOutcome.NotFound, (await store.DeleteAsync(Key, IfMatchAny, default)).Outcome);
        Assert.Equal(WriteOutcome.NotFound, (await store.DeleteAsync(Key, IfMatch(7), default)).Outcome);
        Assert.Equal(WriteOutcome.NotFound, (await store.DeleteAsync(Key, IfNoneMatch(7), default)).Outcome);

        var first = await store.PutAsync(Key, V("1"), Precondition.None, default);
        var second = await store.PutAsync(Key, V("2"), Precondition.None, default);
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, second.Version), await store.DeleteAsync(Key, IfMatch(first.Version), default));
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, second.Version), await store.DeleteAsync(Key, IfNoneMatchAny, default));
        Assert.Equal(WriteOutcome.Deleted, (await store.DeleteAsync(Key, IfMatch(first.Version, second.Version), default)).Outcome);
        Assert.Equal(0, Etcd("k").ModRevision);

        await store.PutAsync(Key, V("3"), Precondition.None, default);
        Assert.Equal(WriteOutcome.Deleted, (await store.DeleteAsync(Key, IfMatchAny, default)).Outcome);
    }

    [Fact]
    public async Task Concurrent_conditional_puts_with_the_same_version_over_two_stores_exactly_one_succeeds()
    {
        var stores = new[] { NewStore(), NewStore() };
        for (var round = 0; round < 5; round++)
        {
            var basis = await stores[0].PutAsync(Key, V("0"), Precondition.None, default);
            await Probe(stores[1]);
            var results = await Task.WhenAll(Enumerable.Range(0, 24).Select(i =>
                stores[i % 2].PutAsync(Key, V($"{i + 1}"), IfMatch(basis.Version), default).AsTask()));
            var winners = results.Where(r => r.Outcome == WriteOutcome.Replaced).ToArray();
            var winner = Assert.Single(winners);
            Assert.All(results.Where(r => r.Outcome != WriteOutcome.Replaced),
                r => Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, winner.Version), r));
            Assert.Equal(winner.Version, (await stores[1].GetAsync(Key, default)).Version);

            // Create-only, concurrently: one Created.
            await stores[0].DeleteAsync(Key, Precondition.None, default);
            var creates = await Task.WhenAll(Enumerable.Range(0, 24).Select(i =>
                stores[i % 2].PutAsync(Key, V($"{i}"), IfNoneMatchAny, default).AsTask()));
            Assert.Single(creates, r => r.Outcome == WriteOutcome.Created);
        }
    }
}
