using AotKvs.Storage;
using AotKvs.Storage.Memory;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// Waiting for a key to change in the memory store: at once when the version already
/// differs, at the next write or delete otherwise, never a lost wake-up, and a waiter that
/// leaves takes nothing with it.
/// </summary>
[Trait("Category", "Unit")]
public sealed class MemoryStoreWatchTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly MemoryStore _store = new();

    public void Dispose() => _store.Dispose();

    private Task Wait(string key, ulong version, CancellationToken cancel = default) =>
        _store.WaitForChangeAsync(System.Text.Encoding.UTF8.GetBytes(key), version, cancel).AsTask();

    [Fact]
    public void Completes_at_once_when_the_version_already_differs()
    {
        var written = _store.Put("k"u8, "1"u8, Precondition.None);
        Assert.True(Wait("k", written.Version - 1).IsCompleted);
        Assert.True(Wait("k", 0).IsCompleted); // waiting for a creation that happened
        Assert.True(Wait("absent", 5).IsCompleted); // waiting on a value that is gone
        Assert.Equal(0, _store.Waiting);
    }

    [Theory]
    [InlineData("put")]
    [InlineData("delete")]
    [InlineData("conditional put")]
    public async Task A_write_or_delete_of_the_key_wakes_it_and_one_of_another_key_does_not(string change)
    {
        var written = _store.Put("k"u8, "1"u8, Precondition.None);
        var waiting = Wait("k", written.Version);
        _store.Put("other"u8, "1"u8, Precondition.None);
        _store.Remove("other"u8, Precondition.None);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, _store.Waiting);

        _ = change switch
        {
            "put" => _store.Put("k"u8, "2"u8, Precondition.None),
            "delete" => _store.Remove("k"u8, Precondition.None),
            _ => _store.Put("k"u8, "2"u8, new Precondition(VersionSet.Of([written.Version]), default)),
        };
        await waiting.WaitAsync(Bound);
        Assert.True(Poll.Until(() => _store.Waiting == 0, Bound));
    }

    [Fact]
    public async Task A_waiter_for_an_absent_key_wakes_when_it_is_created()
    {
        var waiting = Wait("k", 0);
        Assert.False(waiting.IsCompleted);
        _store.Put("k"u8, "1"u8, Precondition.None);
        await waiting.WaitAsync(Bound);
    }

    [Fact]
    public async Task A_failed_conditional_write_changes_nothing_and_wakes_no_one()
    {
        var written = _store.Put("k"u8, "1"u8, Precondition.None);
        var waiting = Wait("k", written.Version);
        Assert.Equal(WriteOutcome.PreconditionFailed, _store.Put("k"u8, "2"u8, new Precondition(default, VersionSet.AnyVersion)).Outcome);
        Assert.Equal(WriteOutcome.PreconditionFailed, _store.Remove("k"u8, new Precondition(VersionSet.Of([written.Version + 100]), default)).Outcome);
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        _store.Put("k"u8, "2"u8, Precondition.None);
        await waiting.WaitAsync(Bound);
    }

    [Fact]
    public async Task Ten_thousand_waiters_on_one_key_all_wake_at_one_write()
    {
        var written = _store.Put("k"u8, "1"u8, Precondition.None);
        var waiting = Enumerable.Range(0, 10_000).Select(_ => Wait("k", written.Version)).ToArray();
        Assert.Equal(10_000, _store.Waiting);
        Assert.DoesNotContain(waiting, w => w.IsCompleted);
        _store.Put("k"u8, "2"u8, Precondition.None);
        await Task.WhenAll(waiting).WaitAsync(Bound);
        Assert.True(Poll.Until(() => _store.Waiting == 0, Bound));
    }

    [Fact]
    public async Task A_waiter_that_leaves_is_gone_and_the_others_still_wake()
    {
        var written = _store.Put("k"u8, "1"u8, Precondition.None);
        using var leaves = new CancellationTokenSource();
        var leaving = Wait("k", written.Version, leaves.Token);
        var staying = Wait("k", written.Version);
        await leaves.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving.WaitAsync(Bound));
        Assert.Equal(1, _store.Waiting);
        _store.Put("k"u8, "2"u8, Precondition.None);
        await staying.WaitAsync(Bound);
    }

    [Fact]
    public async Task Waiters_that_all_leave_an_unwritten_key_leave_nothing_behind()
    {
        // Every waiter leaves; a later waiter on the same key still wakes at the next write
        // (so the key's entry was either removed or is still the live one).
        for (var i = 0; i < 1_000; i++)
        {
            using var leaves = new CancellationTokenSource();
            var leaving = Wait($"k{i % 10}", 0, leaves.Token);
            await leaves.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving.WaitAsync(Bound));
        }
        Assert.Equal(0, _store.Waiting);
        var later = Wait("k3", 0);
        _store.Put("k3"u8, "1"u8, Precondition.None);
        await later.WaitAsync(Bound);
    }

    [Fact]
    public async Task No_wake_up_is_lost_when_writes_race_with_waits()
    {
        // Each round: read the version, start waiting on it while another thread writes.
        // Whatever the interleaving, every waiter ends (the write changed the version).
        for (var round = 0; round < 100_000; round++)
        {
            var version = _store.TryGet("k"u8, out var entry) ? Entry.Version(entry) : 0;
            var writer = Task.Run(() => _store.Put("k"u8, "1"u8, Precondition.None));
            var waiting = Wait("k", version);
            await writer;
            await waiting.WaitAsync(Bound);
        }
        Assert.True(Poll.Until(() => _store.Waiting == 0, Bound));
    }
}
