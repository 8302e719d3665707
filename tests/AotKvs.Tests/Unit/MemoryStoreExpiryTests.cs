using AotKvs.Storage;
using AotKvs.Storage.Memory;
using AotKvs.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// Deadlines in the memory store, against a clock the test moves: a value is absent from its
/// deadline on to every call, swept or not; the sweep takes it out and wakes its waiters; a
/// write without a lifetime removes the deadline; replaced values do not pile up in the queue.
/// </summary>
[Trait("Category", "Unit")]
public sealed class MemoryStoreExpiryTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000));
    private readonly MemoryStore _store;

    public MemoryStoreExpiryTests() => _store = new MemoryStore("scope", _clock);

    public void Dispose() => _store.Dispose();

    private long In(int seconds) => _clock.GetUtcNow().ToUnixTimeMilliseconds() + seconds * 1000L;

    [Fact]
    public void A_value_is_there_until_its_deadline_and_absent_from_it_on()
    {
        var written = _store.Put("k"u8, "1"u8, Precondition.None, In(10));

        _clock.Advance(TimeSpan.FromMilliseconds(9_999));
        Assert.True(_store.TryGet("k"u8, out var entry));
        Assert.Equal(written.Version, Entry.Version(entry));
        Assert.Equal(In(0) + 1, Entry.Deadline(entry));

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(_store.TryGet("k"u8, out _));
        Assert.Equal(0, _store.Count); // the sweep ran on the fake clock's timer
    }

    [Fact]
    public void An_expired_value_is_absent_to_every_call_before_any_sweep()
    {
        // The deadline passes without the timer firing: reads and writes must not depend on the sweep.
        var clock = new ClockWithoutTimers(_clock);
        using var store = new MemoryStore("scope", clock);
        store.Put("k"u8, "1"u8, Precondition.None, In(1));
        store.Put("gone"u8, "1"u8, Precondition.None, In(1));
        clock.Now = clock.Now.AddSeconds(1);

        Assert.False(store.TryGet("k"u8, out _));
        Assert.Equal(2, store.Count); // still held: no sweep ran
        Assert.Equal(WriteOutcome.NotFound, store.Remove("k"u8, new Precondition(VersionSet.AnyVersion, default)).Outcome);
        Assert.False(store.TryRemove("gone"u8));
        Assert.Equal(WriteOutcome.PreconditionFailed, store.Put("k2"u8, "1"u8, new Precondition(VersionSet.AnyVersion, default)).Outcome);
        store.Put("k3"u8, "1"u8, Precondition.None, In(1));
        clock.Now = clock.Now.AddSeconds(1);
        var again = store.Put("k3"u8, "2"u8, new Precondition(default, VersionSet.AnyVersion)); // create-only succeeds on an expired key
        Assert.Equal(WriteOutcome.Created, again.Outcome);
    }

    [Fact]
    public void A_write_without_a_lifetime_removes_the_deadline_and_one_with_a_lifetime_moves_it()
    {
        _store.Put("forever"u8, "1"u8, Precondition.None, In(5));
        _store.Put("forever"u8, "2"u8, Precondition.None);
        _store.Put("renewed"u8, "1"u8, Precondition.None, In(5));
        _clock.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(WriteOutcome.Replaced, _store.Put("renewed"u8, "2"u8, Precondition.None, In(5)).Outcome);

        _clock.Advance(TimeSpan.FromSeconds(4)); // past the first deadlines, before the renewed one
        Assert.True(_store.TryGet("forever"u8, out var entry));
        Assert.Equal(0, Entry.Deadline(entry));
        Assert.True(_store.TryGet("renewed"u8, out _));

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(_store.TryGet("renewed"u8, out _));
        Assert.True(_store.TryGet("forever"u8, out _));
    }

    [Fact]
    public async Task A_waiter_on_a_value_wakes_when_it_expires()
    {
        var written = _store.Put("k"u8, "1"u8, Precondition.None, In(2));
        var waiting = _store.WaitForChangeAsync("k"u8.ToArray(), written.Version, CancellationToken.None).AsTask();
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(waiting.IsCompleted);

        _clock.Advance(TimeSpan.FromSeconds(1));
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, _store.Waiting);
    }

    [Fact]
    public void Replaced_values_do_not_pile_up_in_the_sweep_queue()
    {
        for (var i = 0; i < 10_000; i++)
            _store.Put("k"u8, "1"u8, Precondition.None, In(3600));
        Assert.True(Poll.Until(() => _store.QueuedDeadlines < 2_100, TimeSpan.FromSeconds(10)),
            $"{_store.QueuedDeadlines} entries queued for one key");
        Assert.True(_store.TryGet("k"u8, out _));
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.False(_store.TryGet("k"u8, out _));
        Assert.True(Poll.Until(() => _store.QueuedDeadlines == 0 && _store.Count == 0, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task The_longest_lifetime_is_kept_for_years_and_ends()
    {
        // Further than one timer can wait (about 49 days): the sweep is reached in turns.
        var result = await _store.PutAsync("k"u8.ToArray(), "1"u8.ToArray(), Precondition.None, new Lifetime(Lifetime.MaxSeconds), default);
        Assert.Equal(WriteOutcome.Created, result.Outcome);
        for (var day = 0; day < 3649; day++)
            _clock.Advance(TimeSpan.FromDays(1));
        Assert.True(_store.TryGet("k"u8, out _));
        _clock.Advance(TimeSpan.FromDays(2));
        Assert.False(_store.TryGet("k"u8, out _));
        Assert.Equal(0, _store.Count);
    }

    [Fact]
    public void Many_deadlines_at_once_are_all_swept()
    {
        for (var i = 0; i < 5_000; i++)
            _store.Put(BitConverter.GetBytes(i), "1"u8, Precondition.None, In(1));
        _store.Put("stays"u8, "1"u8, Precondition.None);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(Poll.Until(() => _store.Count == 1, TimeSpan.FromSeconds(10)), $"{_store.Count} left");
    }

    [Fact]
    public void Values_without_a_deadline_cost_no_more_than_before()
    {
        var plain = Entry.Create("key"u8, "1"u8, 1);
        var timed = Entry.Create("key"u8, "1"u8, 1, In(1));
        Assert.Equal(8 + 1 + 3 + 1, plain.Length);
        Assert.Equal(plain.Length + 8, timed.Length);
        Assert.Equal(Entry.Key(plain).ToArray(), Entry.Key(timed).ToArray());
        Assert.Equal(Entry.Value(plain).ToArray(), Entry.Value(timed).ToArray());
        Assert.Equal(1ul, Entry.Version(timed));
        Entry.SetVersion(timed, 7);
        Assert.Equal(7ul, Entry.Version(timed));
        Assert.Equal(In(1), Entry.Deadline(timed)); // the version's bit does not touch the deadline
        Assert.Equal(0, Entry.Deadline(plain));
    }

    /// <summary>Tells the time it is told and never fires a timer: a sweep never runs.</summary>
    private sealed class ClockWithoutTimers(TimeProvider start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start.GetUtcNow();

        public override DateTimeOffset GetUtcNow() => Now;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new Inert();

        private sealed class Inert : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
