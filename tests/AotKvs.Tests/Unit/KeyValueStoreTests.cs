using AotKvs.Storage;
using Xunit;

namespace AotKvs.Tests.Unit;

[Trait("Category", "Unit")]
public sealed class KeyValueStoreTests
{
    [Fact]
    public void Put_reports_created_then_replaced_and_get_sees_the_latest()
    {
        var store = new KeyValueStore();
        Assert.Equal(PutOutcome.Created, store.Put("k", [1]));
        Assert.Equal(PutOutcome.Replaced, store.Put("k", [2]));
        Assert.True(store.TryGet("k", out var value));
        Assert.Equal([2], value);
        Assert.True(store.TryRemove("k"));
        Assert.False(store.TryRemove("k"));
        Assert.False(store.TryGet("k", out _));
    }

    [Fact]
    public void Parallel_puts_of_one_key_create_it_exactly_once()
    {
        for (var round = 0; round < 200; round++)
        {
            var store = new KeyValueStore();
            var outcomes = new PutOutcome[8];
            Parallel.For(0, outcomes.Length, i => outcomes[i] = store.Put("k", [(byte)i]));
            Assert.Single(outcomes, o => o == PutOutcome.Created);
        }
    }

    [Fact]
    public void Puts_racing_deletes_keep_created_and_deleted_in_balance()
    {
        var store = new KeyValueStore();
        int created = 0, deleted = 0;
        Parallel.For(0, 20_000, i =>
        {
            if (i % 2 == 0 && store.Put("k", [1]) == PutOutcome.Created) Interlocked.Increment(ref created);
            if (i % 2 == 1 && store.TryRemove("k")) Interlocked.Increment(ref deleted);
        });
        Assert.Equal(created, deleted + store.Count);
    }
}
