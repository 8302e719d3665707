using System.Text;
using AotKvs.Storage.Memory;
using AotKvs.Storage;
using Xunit;

namespace AotKvs.Tests.Unit;

[Trait("Category", "Unit")]
public sealed class MemoryStoreTests
{
    private static ReadOnlySpan<byte> K(string key) => Encoding.UTF8.GetBytes(key);

    [Fact]
    public void Put_reports_created_then_replaced_and_get_sees_the_latest()
    {
        var store = new MemoryStore();
        Assert.Equal(PutOutcome.Created, store.Put(K("k"), "1"u8));
        Assert.Equal(PutOutcome.Replaced, store.Put(K("k"), "[2]"u8));
        Assert.True(store.TryGet(K("k"), out var entry));
        Assert.Equal("[2]", Encoding.UTF8.GetString(Entry.Value(entry)));
        Assert.Equal("k", Encoding.UTF8.GetString(Entry.Key(entry)));
        Assert.Equal(1, store.Count);
        Assert.Equal(3, store.ValueBytes());
        Assert.True(store.TryRemove(K("k")));
        Assert.False(store.TryRemove(K("k")));
        Assert.False(store.TryGet(K("k"), out _));
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void Keys_are_compared_byte_for_byte()
    {
        var store = new MemoryStore();
        foreach (var key in new[] { "a", "A", "a ", "é", "e\u0301", "", "\0" })
            Assert.Equal(PutOutcome.Created, store.Put(K(key), "0"u8));
        Assert.Equal(7, store.Count);
    }

    [Fact]
    public void Many_keys_survive_growth_and_read_back()
    {
        var store = new MemoryStore();
        for (var i = 0; i < 50_000; i++)
            store.Put(K($"key{i}"), Encoding.UTF8.GetBytes(i.ToString()));
        for (var i = 0; i < 50_000; i += 997)
        {
            Assert.True(store.TryGet(K($"key{i}"), out var entry));
            Assert.Equal(i.ToString(), Encoding.UTF8.GetString(Entry.Value(entry)));
        }
        Assert.Equal(50_000, store.Count);
    }

    [Fact]
    public void Parallel_puts_of_one_key_create_it_exactly_once()
    {
        for (var round = 0; round < 200; round++)
        {
            var store = new MemoryStore();
            var outcomes = new PutOutcome[8];
            Parallel.For(0, outcomes.Length, i => outcomes[i] = store.Put("k"u8, [(byte)('0' + i)]));
            Assert.Single(outcomes, o => o == PutOutcome.Created);
        }
    }

    [Fact]
    public void Puts_racing_deletes_keep_created_and_deleted_in_balance()
    {
        var store = new MemoryStore();
        int created = 0, deleted = 0;
        Parallel.For(0, 20_000, i =>
        {
            if (i % 2 == 0 && store.Put("k"u8, "1"u8) == PutOutcome.Created) Interlocked.Increment(ref created);
            if (i % 2 == 1 && store.TryRemove("k"u8)) Interlocked.Increment(ref deleted);
        });
        Assert.Equal(created, deleted + store.Count);
    }

    [Fact]
    public void Entries_hold_keys_of_up_to_255_bytes()
    {
        var longest = new byte[Entry.MaxKeyBytes];
        Assert.Equal(Entry.MaxKeyBytes, Entry.Key(Entry.Create(longest, "1"u8)).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => Entry.Create(new byte[Entry.MaxKeyBytes + 1], "1"u8));
    }

    [Fact]
    public void Entries_compare_by_key_alone()
    {
        var comparer = EntryKeyComparer.Instance;
        var a = Entry.Create("k"u8, "1"u8);
        Assert.True(comparer.Equals(a, Entry.Create("k"u8, "2"u8)));
        Assert.False(comparer.Equals(a, Entry.Create("j"u8, "1"u8)));
        Assert.False(comparer.Equals(a, null));
        Assert.False(comparer.Equals(null, a));
        Assert.False(comparer.Equals(null, null));
        Assert.Equal(comparer.GetHashCode(a), comparer.GetHashCode(Entry.Create("k"u8, "2"u8)));
        Assert.Equal(comparer.GetHashCode(a), comparer.GetHashCode("k"u8));
        Assert.Throws<NotSupportedException>(() => comparer.Create("k"u8));
    }
}
