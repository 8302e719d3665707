using System.Text;
using AotKvs.Storage;
using AotKvs.Storage.Memory;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The memory store's versions and conditional writes: every write a new version, the
/// precondition checked in the same step as the change.
/// </summary>
[Trait("Category", "Unit")]
public sealed class MemoryStoreVersionTests
{
    private static Precondition IfMatch(params ulong[] versions) => new(VersionSet.Of(versions), default);

    private static Precondition IfNoneMatch(params ulong[] versions) => new(default, VersionSet.Of(versions));

    private static readonly Precondition CreateOnly = new(default, VersionSet.AnyVersion);

    [Fact]
    public void Every_write_gets_a_new_version_and_reads_return_it()
    {
        var store = new MemoryStore();
        var seen = new HashSet<ulong>();
        for (var i = 0; i < 100; i++)
        {
            var written = store.Put("k"u8, "1"u8, Precondition.None);
            Assert.True(written.Version >= 1);
            Assert.True(seen.Add(written.Version), "a version was given twice");
            Assert.True(store.TryGet("k"u8, out var entry));
            Assert.Equal(written.Version, Entry.Version(entry));
        }
        var other = store.Put("other"u8, "1"u8, Precondition.None);
        Assert.DoesNotContain(other.Version, seen);
        Assert.Equal(other.Version, store.LastVersion);
    }

    [Fact]
    public async Task GetAsync_returns_the_version_of_the_value()
    {
        var store = new MemoryStore();
        var written = await store.PutAsync("k"u8.ToArray(), "[1]"u8.ToArray(), Precondition.None, default);
        var read = await store.GetAsync("k"u8.ToArray(), default);
        Assert.True(read.Found);
        Assert.Equal(written.Version, read.Version);
        Assert.Equal(0ul, (await store.GetAsync("absent"u8.ToArray(), default)).Version);
    }

    [Fact]
    public void Scopes_are_16_hex_digits_and_differ_per_store()
    {
        var a = new MemoryStore().VersionScope;
        var b = new MemoryStore().VersionScope;
        Assert.Matches("^[0-9a-f]{16}$", a);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void If_match_replaces_only_the_version_named()
    {
        var store = new MemoryStore();
        var first = store.Put("k"u8, "1"u8, Precondition.None);
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, first.Version), store.Put("k"u8, "2"u8, IfMatch(first.Version + 100)));
        var second = store.Put("k"u8, "2"u8, IfMatch(first.Version + 100, first.Version));
        Assert.Equal(WriteOutcome.Replaced, second.Outcome);
        Assert.True(second.Version > first.Version);
        Assert.Equal(WriteOutcome.PreconditionFailed, store.Put("k"u8, "3"u8, IfMatch(first.Version)).Outcome);
        Assert.True(store.TryGet("k"u8, out var entry));
        Assert.Equal("2"u8.ToArray(), Entry.Value(entry).ToArray());
    }

    [Fact]
    public void If_match_on_an_absent_key_fails_with_no_version()
    {
        var store = new MemoryStore();
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, 0), store.Put("k"u8, "1"u8, new Precondition(VersionSet.AnyVersion, default)));
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, 0), store.Put("k"u8, "1"u8, IfMatch()));
        Assert.False(store.TryGet("k"u8, out _));
    }

    [Fact]
    public void If_none_match_star_creates_only()
    {
        var store = new MemoryStore();
        var created = store.Put("k"u8, "1"u8, CreateOnly);
        Assert.Equal(WriteOutcome.Created, created.Outcome);
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, created.Version), store.Put("k"u8, "2"u8, CreateOnly));
        Assert.Equal(WriteOutcome.PreconditionFailed, store.Put("k"u8, "2"u8, IfNoneMatch(created.Version)).Outcome);
        Assert.Equal(WriteOutcome.Replaced, store.Put("k"u8, "2"u8, IfNoneMatch(created.Version + 1)).Outcome);
    }

    [Fact]
    public void Conditional_delete_of_an_absent_key_is_not_found_whatever_the_condition()
    {
        var store = new MemoryStore();
        Assert.Equal(WriteOutcome.NotFound, store.Remove("k"u8, IfMatch(1)).Outcome);
        Assert.Equal(WriteOutcome.NotFound, store.Remove("k"u8, CreateOnly).Outcome);
        var written = store.Put("k"u8, "1"u8, Precondition.None);
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, written.Version), store.Remove("k"u8, IfMatch(written.Version + 1)));
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, written.Version), store.Remove("k"u8, CreateOnly));
        Assert.Equal(WriteOutcome.Deleted, store.Remove("k"u8, IfMatch(written.Version)).Outcome);
        Assert.False(store.TryGet("k"u8, out _));
    }

    [Fact]
    public void A_replayed_version_is_kept_and_later_versions_are_above_it()
    {
        var store = new MemoryStore();
        Assert.Equal(PutOutcome.Created, store.Put("k"u8, "1"u8, 1000ul));
        Assert.True(store.TryGet("k"u8, out var entry));
        Assert.Equal(1000ul, Entry.Version(entry));
        Assert.Equal(1001ul, store.Put("j"u8, "1"u8, Precondition.None).Version);
        store.ReserveVersionsThrough(5000);
        store.ReserveVersionsThrough(10); // never lowers
        Assert.Equal(5001ul, store.NewVersion());
        Assert.Throws<ArgumentOutOfRangeException>(() => store.Put("k"u8, "1"u8, 0ul));
    }

    [Fact]
    public void The_sync_calls_version_their_writes_too()
    {
        var store = new MemoryStore();
        Assert.Equal(PutOutcome.Created, store.Put("k"u8, "1"u8));
        Assert.True(store.TryGet("k"u8, out var first));
        Assert.Equal(PutOutcome.Replaced, store.Put("k"u8, "2"u8));
        Assert.True(store.TryGet("k"u8, out var second));
        Assert.True(Entry.Version(first) >= 1);
        Assert.True(Entry.Version(second) > Entry.Version(first));
    }

    [Fact]
    public void Concurrent_conditional_puts_with_one_version_let_exactly_one_succeed()
    {
        const int Threads = 8;
        var store = new MemoryStore();
        for (var round = 0; round < 200; round++)
        {
            var current = store.Put("k"u8, "0"u8, Precondition.None).Version;
            var outcomes = new WriteResult[Threads];
            using var start = new Barrier(Threads);
            var threads = Enumerable.Range(0, Threads).Select(i => new Thread(() =>
            {
                start.SignalAndWait();
                outcomes[i] = store.Put("k"u8, [(byte)('a' + i)], IfMatch(current));
            })).ToArray();
            foreach (var thread in threads)
                thread.Start();
            foreach (var thread in threads)
                thread.Join();

            var winner = Assert.Single(outcomes, o => o.Outcome == WriteOutcome.Replaced);
            Assert.All(outcomes.Where(o => o.Outcome != WriteOutcome.Replaced), o =>
                Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, winner.Version), o));
            Assert.True(store.TryGet("k"u8, out var entry));
            Assert.Equal(winner.Version, Entry.Version(entry));
        }
    }

    [Fact]
    public void Concurrent_create_only_puts_create_once_and_conditional_deletes_delete_once()
    {
        for (var round = 0; round < 300; round++)
        {
            var store = new MemoryStore();
            var created = new WriteResult[8];
            Parallel.For(0, created.Length, i => created[i] = store.Put("k"u8, "1"u8, CreateOnly));
            var winner = Assert.Single(created, o => o.Outcome == WriteOutcome.Created);

            var deleted = new WriteResult[8];
            Parallel.For(0, deleted.Length, i => deleted[i] = store.Remove("k"u8, IfMatch(winner.Version)));
            Assert.Single(deleted, o => o.Outcome == WriteOutcome.Deleted);
            Assert.Equal(deleted.Length - 1, deleted.Count(o => o.Outcome == WriteOutcome.NotFound));
        }
    }

    [Fact]
    public void Lost_updates_never_happen_when_every_increment_is_conditional()
    {
        var store = new MemoryStore();
        store.Put("n"u8, "0"u8, Precondition.None);
        var successes = 0;
        Parallel.For(0, 8, _ =>
        {
            for (var done = 0; done < 500;)
            {
                Assert.True(store.TryGet("n"u8, out var entry));
                var next = long.Parse(Entry.Value(entry)) + 1;
                if (store.Put("n"u8, Encoding.ASCII.GetBytes(next.ToString()), IfMatch(Entry.Version(entry))).Outcome == WriteOutcome.Replaced)
                {
                    done++;
                    Interlocked.Increment(ref successes);
                }
            }
        });
        Assert.True(store.TryGet("n"u8, out var last));
        Assert.Equal(4000, long.Parse(Entry.Value(last)));
        Assert.Equal(4000, successes);
    }
}
