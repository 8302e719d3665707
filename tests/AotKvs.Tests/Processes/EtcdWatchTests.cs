using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using AotKvs.Configuration;
using AotKvs.Storage;
using AotKvs.Storage.Etcd;
using AotKvs.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.Processes;

/// <summary>
/// Expiry from etcd leases and waits from etcd watches, called in process (IKeyValueStore, as
/// EtcdConditionalTests) against a real etcd: a value with a lifetime is gone after it for
/// every main and its waiters wake, a renewal moves the deadline, a PUT without one keeps the
/// key; a waiter wakes at a write made through another main; a wait that ends ends its watch
/// in etcd. The test cluster's election timeout (500 ms) makes etcd's shortest lease 1 s.
/// </summary>
[Collection(TimingCollection.Name), Trait("Category", "Processes")]
public sealed partial class EtcdWatchTests(ITestOutputHelper output) : IDisposable
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

    private (EtcdStore Store, EtcdChannel Channel) NewStore(int timeoutMs = 5000)
    {
        var settings = new StoreSettings([_etcd.ClientUri(0)], "/t/", TimeSpan.FromMilliseconds(timeoutMs), 64, null, null, null, null, null);
        var channel = new EtcdChannel(settings, new EtcdMetrics(_services.GetRequiredService<IMeterFactory>()), NullLogger<EtcdChannel>.Instance);
        _channels.Add(channel);
        return (new EtcdStore(channel, "/t/"u8.ToArray()), channel);
    }

    private static ReadOnlyMemory<byte> V(string json) => Encoding.UTF8.GetBytes(json);

    /// <summary>What etcd itself holds for the key (its JSON gateway): found, and the lease it is under.</summary>
    private (bool Found, long Lease) Etcd(string key)
    {
        using var range = JsonDocument.Parse(_etcd.Call(0, "/v3/kv/range", new { key = EtcdCluster.Base64("/t/" + key) }));
        if (!range.RootElement.TryGetProperty("kvs", out var kvs))
            return (false, 0);
        return (true, kvs[0].TryGetProperty("lease", out var lease) ? long.Parse(lease.GetString()!, CultureInfo.InvariantCulture) : 0);
    }

    /// <summary>The leases etcd holds.</summary>
    private int Leases()
    {
        using var leases = JsonDocument.Parse(_etcd.Call(0, "/v3/lease/leases", new { }));
        return leases.RootElement.TryGetProperty("leases", out var list) ? list.GetArrayLength() : 0;
    }

    /// <summary>etcd's own count of its watchers (its /metrics).</summary>
    private async Task<long> EtcdWatchers()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var metrics = await http.GetStringAsync(new Uri(_etcd.ClientUri(0), "/metrics"));
        return long.Parse(WatcherTotal().Match(metrics).Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"(?m)^etcd_debugging_mvcc_watcher_total (\d+)")]
    private static partial Regex WatcherTotal();

    [Fact]
    public async Task A_put_with_a_lifetime_is_gone_after_it_for_every_main_and_its_waiter_wakes()
    {
        var (store, _) = NewStore();
        var (other, _) = NewStore();
        await store.ProbeAsync(CancellationToken.None);
        var clock = Stopwatch.StartNew();
        var put = await store.PutAsync(Key, V("1"), Precondition.None, new Lifetime(1), CancellationToken.None);
        Assert.Equal(WriteOutcome.Created, put.Outcome);
        var (found, lease) = Etcd("k");
        Assert.True(found);
        Assert.NotEqual(0, lease);

        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var wait = other.WaitForChangeAsync(Key, put.Version, bound.Token).AsTask();
        await Task.Delay(300);
        Assert.False(wait.IsCompleted);
        await wait; // the lease's end deletes the key: an event like any other
        output.WriteLine($"gone after {clock.ElapsedMilliseconds} ms");
        Assert.InRange(clock.ElapsedMilliseconds, 900, 5000);
        Assert.False((await store.GetAsync(Key, CancellationToken.None)).Found);
        Assert.False((await other.GetAsync(Key, CancellationToken.None)).Found);
        Assert.False(Etcd("k").Found);
    }

    [Fact]
    public async Task A_renewal_moves_the_deadline()
    {
        var (store, _) = NewStore();
        await store.ProbeAsync(CancellationToken.None);
        var clock = Stopwatch.StartNew();
        await store.PutAsync(Key, V("1"), Precondition.None, new Lifetime(2), CancellationToken.None);
        var first = Etcd("k").Lease;
        await Task.Delay(1000);
        var renewed = await store.PutAsync(Key, V("2"), new Precondition(VersionSet.AnyVersion, default), new Lifetime(5), CancellationToken.None);
        Assert.Equal(WriteOutcome.Replaced, renewed.Outcome);
        Assert.NotEqual(first, Etcd("k").Lease);

        await Task.Delay(TimeSpan.FromMilliseconds(3500) - clock.Elapsed); // well past the first deadline
        Assert.True((await store.GetAsync(Key, CancellationToken.None)).Found);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await store.WaitForChangeAsync(Key, renewed.Version, bound.Token);
        output.WriteLine($"gone after {clock.ElapsedMilliseconds} ms");
        Assert.InRange(clock.ElapsedMilliseconds, 5500, 10000);
        Assert.False((await store.GetAsync(Key, CancellationToken.None)).Found);
    }

    /// <summary>Leases far longer than the test: only a revoke can remove them.</summary>
    [Fact]
    public async Task The_lease_of_a_replaced_value_or_a_refused_put_is_revoked_and_the_key_kept()
    {
        var (store, _) = NewStore();
        await store.ProbeAsync(CancellationToken.None);
        await store.PutAsync(Key, V("1"), Precondition.None, new Lifetime(600), CancellationToken.None);
        await store.PutAsync(Key, V("2"), new Precondition(VersionSet.AnyVersion, default), new Lifetime(600), CancellationToken.None); // a Txn
        var lease = Etcd("k").Lease;
        Assert.True(Poll.Until(() => Leases() == 1, TimeSpan.FromSeconds(5)), $"leases: {Leases()}");
        await store.PutAsync(Key, V("3"), Precondition.None, new Lifetime(600), CancellationToken.None);
        Assert.NotEqual(lease, Etcd("k").Lease);
        Assert.True(Poll.Until(() => Leases() == 1, TimeSpan.FromSeconds(5)), $"leases: {Leases()}");
        var refused = await store.PutAsync(Key, V("x"), new Precondition(default, VersionSet.AnyVersion), new Lifetime(600), CancellationToken.None);
        Assert.Equal(WriteOutcome.PreconditionFailed, refused.Outcome); // its lease holds nothing
        Assert.True(Poll.Until(() => Leases() == 1, TimeSpan.FromSeconds(5)), $"leases: {Leases()}");
        await store.PutAsync(Key, V("4"), Precondition.None, Lifetime.Forever, CancellationToken.None);
        Assert.True(Poll.Until(() => Leases() == 0, TimeSpan.FromSeconds(5)), $"leases: {Leases()}");
        Assert.Equal((true, 0L), Etcd("k"));
    }

    [Fact]
    public async Task A_put_without_a_lifetime_takes_the_key_off_its_lease_and_keeps_it()
    {
        var (store, _) = NewStore();
        await store.PutAsync(Key, V("1"), Precondition.None, new Lifetime(1), CancellationToken.None);
        var kept = await store.PutAsync(Key, V("2"), Precondition.None, Lifetime.Forever, CancellationToken.None);
        Assert.Equal((true, 0L), Etcd("k"));
        await Task.Delay(2500);
        var read = await store.GetAsync(Key, CancellationToken.None);
        Assert.True(read.Found);
        Assert.Equal(kept.Version, read.Version);
        Assert.Equal(0, Leases());
    }

    [Fact]
    public async Task A_waiter_wakes_at_a_write_through_another_main_and_not_before()
    {
        var (waiter, _) = NewStore(timeoutMs: 500); // a watch outlives the bound on opening it
        var (writer, _) = NewStore();
        var first = await writer.PutAsync(Key, V("1"), Precondition.None, CancellationToken.None);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        // A version the caller has not seen yet: at once.
        await waiter.WaitForChangeAsync(Key, first.Version - 1, bound.Token).AsTask().WaitAsync(TimeSpan.FromSeconds(5));

        var wait = waiter.WaitForChangeAsync(Key, first.Version, bound.Token).AsTask();
        var absent = waiter.WaitForChangeAsync("new"u8.ToArray(), 0, bound.Token).AsTask();
        await writer.PutAsync("other"u8.ToArray(), V("1"), Precondition.None, CancellationToken.None);
        await Task.Delay(1200);
        Assert.False(wait.IsCompleted);   // another key's write
        Assert.False(absent.IsCompleted);

        await writer.PutAsync(Key, V("2"), Precondition.None, CancellationToken.None);
        await wait.WaitAsync(TimeSpan.FromSeconds(5));
        await writer.PutAsync("new"u8.ToArray(), V("1"), Precondition.None, CancellationToken.None);
        await absent.WaitAsync(TimeSpan.FromSeconds(5));

        var second = await waiter.GetAsync(Key, CancellationToken.None);
        var deleted = waiter.WaitForChangeAsync(Key, second.Version, bound.Token).AsTask();
        await Task.Delay(200);
        Assert.False(deleted.IsCompleted);
        Assert.Equal(WriteOutcome.Deleted, (await writer.DeleteAsync(Key, Precondition.None, CancellationToken.None)).Outcome);
        await deleted.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_wait_that_ends_ends_its_etcd_watch()
    {
        var (store, channel) = NewStore();
        var before = await EtcdWatchers();
        using var leave = new CancellationTokenSource();
        await store.PutAsync(Key, V("1"), Precondition.None, CancellationToken.None);
        var version = (await store.GetAsync(Key, CancellationToken.None)).Version;
        var waits = Enumerable.Range(0, 20).Select(_ => store.WaitForChangeAsync(Key, version, leave.Token).AsTask()).ToArray();
        Assert.True(await Poll.UntilAsync(async () => await EtcdWatchers() == before + 20, TimeSpan.FromSeconds(10)), $"etcd watchers: {await EtcdWatchers()}");
        Assert.Equal(20, channel.OpenWatches);
        Assert.DoesNotContain(waits, w => w.IsCompleted);

        leave.Cancel();
        foreach (var wait in waits)
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        Assert.Equal(0, channel.OpenWatches);
        Assert.True(await Poll.UntilAsync(async () => await EtcdWatchers() == before, TimeSpan.FromSeconds(10)), $"etcd watchers: {await EtcdWatchers()}");

        // A wait that ends with a change ends its watch too.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var woken = store.WaitForChangeAsync(Key, version, bound.Token).AsTask();
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(channel.OpenWatches == 1), TimeSpan.FromSeconds(5)));
        await store.PutAsync(Key, V("2"), Precondition.None, CancellationToken.None);
        await woken;
        Assert.Equal(0, channel.OpenWatches);
        Assert.True(await Poll.UntilAsync(async () => await EtcdWatchers() == before, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_wait_whose_etcd_goes_away_ends_unavailable_and_closes_its_stream()
    {
        var (store, channel) = NewStore(timeoutMs: 1000);
        await store.PutAsync(Key, V("1"), Precondition.None, CancellationToken.None);
        var version = (await store.GetAsync(Key, CancellationToken.None)).Version;
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var wait = store.WaitForChangeAsync(Key, version, bound.Token).AsTask();
        Assert.True(await Poll.UntilAsync(async () => await EtcdWatchers() == 1, TimeSpan.FromSeconds(5)));
        await Task.Delay(500); // past the read after the watch: waiting on the stream itself

        _etcd.Kill(0);
        var failure = await Assert.ThrowsAsync<StoreException>(() => wait.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(StoreFailure.Unavailable, failure.Failure);
        Assert.Contains("watch", failure.Message, StringComparison.Ordinal);
        Assert.Equal(0, channel.OpenWatches);
        // No etcd at all: a new wait cannot open its watch, within the store bound.
        var clock = Stopwatch.StartNew();
        var refused = await Assert.ThrowsAsync<StoreException>(() => store.WaitForChangeAsync(Key, version, bound.Token).AsTask());
        Assert.Equal(StoreFailure.Unavailable, refused.Failure);
        Assert.InRange(clock.ElapsedMilliseconds, 0, 3000);
        output.WriteLine($"{failure.Message} / {refused.Message}");
    }

    /// <summary>What one waiting request's watch holds in main (managed heap) and in etcd (its heap), at 1,000 waiters.</summary>
    [Fact]
    public async Task Memory_per_waiting_watch_is_measured_and_bounded()
    {
        const int Waiters = 1000;
        var (store, channel) = NewStore();
        await store.PutAsync(Key, V("1"), Precondition.None, CancellationToken.None);
        var version = (await store.GetAsync(Key, CancellationToken.None)).Version;
        using (var warm = new CancellationTokenSource())
        {
            var w = store.WaitForChangeAsync(Key, version, warm.Token).AsTask();
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(channel.OpenWatches == 1), TimeSpan.FromSeconds(5)));
            warm.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => w);
        }
        var etcdBefore = await EtcdHeap();
        var mainBefore = GC.GetTotalMemory(forceFullCollection: true);
        using var leave = new CancellationTokenSource();
        var waits = Enumerable.Range(0, Waiters).Select(_ => store.WaitForChangeAsync(Key, version, leave.Token).AsTask()).ToArray();
        Assert.True(await Poll.UntilAsync(async () => await EtcdWatchers() == Waiters, TimeSpan.FromSeconds(60)), $"etcd watchers: {await EtcdWatchers()}");
        var mainPer = (GC.GetTotalMemory(forceFullCollection: true) - mainBefore) / Waiters;
        var etcdPer = (await EtcdHeap() - etcdBefore) / Waiters;
        output.WriteLine($"per waiting watch: main {mainPer} B (managed), etcd {etcdPer} B (heap in use)");
        leave.Cancel();
        foreach (var wait in waits)
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        Assert.InRange(mainPer, 1, 32 * 1024);
    }

    private async Task<long> EtcdHeap()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var metrics = await http.GetStringAsync(new Uri(_etcd.ClientUri(0), "/metrics"));
        return (long)double.Parse(HeapInUse().Match(metrics).Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"(?m)^go_memstats_heap_inuse_bytes (\S+)")]
    private static partial Regex HeapInUse();
}
