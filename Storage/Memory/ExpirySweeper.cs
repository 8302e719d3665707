namespace AotKvs.Storage.Memory;

/// <summary>
/// Takes values out of the store at their deadlines, so that their waiters wake then and
/// their memory goes. Reads never depend on it: a value past its deadline is absent to every
/// call whether it has been swept or not. The sweep runs on a timer set for the earliest
/// deadline, takes at most <see cref="BatchSize"/> values per turn (a turn a millisecond while
/// more are due) and holds one shard's lock per value, so a million deadlines at once never
/// stall requests for long.
/// The queue holds entries, not keys: a value replaced before its deadline stays queued (and
/// in memory) until the queue is compacted, which happens once such stale entries are more
/// than half of it; so it holds at most about twice the live deadlines.
/// </summary>
internal sealed class ExpirySweeper : IDisposable
{
    private const int BatchSize = 1024;
    private const int CompactAtLeast = 1024;
    private const long MaxTimerMs = 24 * 3600 * 1000;

    private readonly Lock _lock = new();
    private readonly PriorityQueue<byte[], long> _due = new();
    private readonly Func<byte[], bool> _expireIfCurrent;
    private readonly Func<byte[], bool> _isCurrent;
    private readonly TimeProvider _clock;
    private readonly ITimer _timer;
    private long _armedFor = long.MaxValue;
    private int _stale;
    private int _sweeping;

    /// <summary>
    /// <paramref name="expireIfCurrent"/> removes an entry if it is still its key's (whether it
    /// was); <paramref name="isCurrent"/> says whether it still is.
    /// </summary>
    public ExpirySweeper(TimeProvider clock, Func<byte[], bool> expireIfCurrent, Func<byte[], bool> isCurrent)
    {
        _clock = clock;
        _expireIfCurrent = expireIfCurrent;
        _isCurrent = isCurrent;
        _timer = clock.CreateTimer(static sweeper => ((ExpirySweeper)sweeper!).Sweep(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Entries queued, stale ones included (for tests and metrics).</summary>
    public int Queued
    {
        get
        {
            lock (_lock)
                return _due.Count;
        }
    }

    /// <summary>A published entry with a deadline; called outside the shard's lock.</summary>
    public void Add(byte[] entry, long deadline)
    {
        lock (_lock)
        {
            _due.Enqueue(entry, deadline);
            if (deadline < _armedFor)
                Arm(deadline);
        }
    }

    /// <summary>An entry with a deadline left the store before it (replaced, deleted): its queue slot is stale.</summary>
    public void NoteStale()
    {
        if (StaleEnoughToCompact(Interlocked.Increment(ref _stale)))
            lock (_lock)
                Arm(0); // compact on the timer's thread, now
    }

    /// <summary>
    /// One timer turn: expire at most one batch of what is due, compact if needed, set the
    /// timer again: a millisecond later while more is due, so a million deadlines at once are
    /// spread over a second of turns instead of holding a thread (of two, on a small machine)
    /// for the whole sweep.
    /// </summary>
    private void Sweep()
    {
        if (Interlocked.Exchange(ref _sweeping, 1) == 1)
            return; // a turn is running; it sets the timer again when it ends
        var moreDue = false;
        try
        {
            var batch = new List<byte[]>(BatchSize);
            lock (_lock)
            {
                _armedFor = long.MaxValue;
                var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
                while (batch.Count < BatchSize && _due.TryPeek(out _, out var deadline) && deadline <= now)
                    batch.Add(_due.Dequeue());
            }
            foreach (var entry in batch)
                _expireIfCurrent(entry);
            moreDue = batch.Count == BatchSize;
            if (!moreDue && StaleEnoughToCompact(Volatile.Read(ref _stale)))
                Compact();
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
            lock (_lock)
                if (_due.TryPeek(out _, out var next))
                    Arm(moreDue ? _clock.GetUtcNow().ToUnixTimeMilliseconds() + 1 : next);
        }
    }

    /// <summary>Stale entries are worth a compaction once they are many and more than half the queue.</summary>
    private bool StaleEnoughToCompact(int stale) => stale >= CompactAtLeast && stale > Queued / 2;

    /// <summary>Drops the queued entries that are no longer their keys'. Entries added meanwhile are kept.</summary>
    private void Compact()
    {
        (byte[] Entry, long Deadline)[] queued;
        lock (_lock)
        {
            queued = [.. _due.UnorderedItems];
            _due.Clear();
            Volatile.Write(ref _stale, 0);
        }
        var kept = queued.Where(item => _isCurrent(item.Entry)).ToList();
        lock (_lock)
            _due.EnqueueRange(kept);
    }

    /// <summary>Sets the timer for <paramref name="deadline"/> (Unix ms; past: at once); under the lock.</summary>
    private void Arm(long deadline)
    {
        _armedFor = deadline;
        // A timer takes at most about 49 days; a later deadline is reached in turns of a day.
        var wait = Math.Clamp(deadline - _clock.GetUtcNow().ToUnixTimeMilliseconds(), 0, MaxTimerMs);
        _timer.Change(TimeSpan.FromMilliseconds(wait), Timeout.InfiniteTimeSpan);
    }

    public void Dispose() => _timer.Dispose();
}
