using System.Security.Cryptography;

namespace AotKvs.Storage.Memory;

/// <summary>
/// The default store: a main's data in its own memory, lost when it stops.
/// Keys are spread over shards by hash; each shard is a set of entries under its own lock,
/// so every PUT and DELETE decides its outcome atomically (32 concurrent PUTs of a new key
/// give one Created), while requests for different keys rarely wait for each other.
/// Every successful write gets a new version from one counter for the whole store (so no
/// version is ever given twice, to any key), taken under the shard's lock: a conditional
/// write checks the key's version and makes its change in one step.
/// A value may have a deadline (<see cref="Entry.Deadline"/>): from then on every call finds
/// the key absent, and <see cref="ExpirySweeper"/> removes it and wakes its waiters. Waiters
/// (<see cref="KeyWaiters"/>) register and are woken under the shard's lock.
/// </summary>
internal sealed class MemoryStore : IKeyValueStore, IDisposable
{
    private const int ShardBits = 6;
    private readonly Shard[] _shards = new Shard[1 << ShardBits];
    private readonly TimeProvider _clock;
    private readonly ExpirySweeper _sweeper;
    private ulong _lastVersion;
    private int _waiting;

    /// <summary>A store whose versions are named by a new random scope, so no tag from an earlier process ever matches.</summary>
    public MemoryStore() : this(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)))
    {
    }

    /// <param name="versionScope">Names this store's versions.</param>
    /// <param name="clock">Tells the time deadlines are measured against (tests move it).</param>
    public MemoryStore(string versionScope, TimeProvider? clock = null)
    {
        VersionScope = versionScope;
        _clock = clock ?? TimeProvider.System;
        _sweeper = new ExpirySweeper(_clock, ExpireIfCurrent, IsCurrent);
        for (var i = 0; i < _shards.Length; i++)
            _shards[i] = new Shard();
    }

    /// <summary>Requests waiting for a key to change, now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Entries the sweeper holds, stale ones included.</summary>
    public int QueuedDeadlines => _sweeper.Queued;

    /// <summary>Now, in the Unix milliseconds that deadlines are written in.</summary>
    public long NowUnixMs => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    public int Count
    {
        get
        {
            var count = 0;
            foreach (var shard in _shards)
                count += shard.Count;
            return count;
        }
    }

    /// <summary>
    /// The whole entry, immutable; its value is <see cref="Entry.Value"/>, its version
    /// <see cref="Entry.Version"/>. A value past its deadline is not found.
    /// </summary>
    public bool TryGet(ReadOnlySpan<byte> key, out byte[] entry)
    {
        var shard = ShardFor(key);
        lock (shard.Lock)
            return TryGetLive(shard, key, out entry);
    }

    /// <summary>Stores the value under a new version.</summary>
    public PutOutcome Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> valueJson) =>
        Put(key, valueJson, Precondition.None).Outcome == WriteOutcome.Created ? PutOutcome.Created : PutOutcome.Replaced;

    /// <summary>
    /// Stores the value under a version chosen by the caller (≥ 1, e.g. one read back from a
    /// log), with the deadline the caller names (Unix ms; 0: none); later new versions are above it.
    /// </summary>
    public PutOutcome Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> valueJson, ulong version, long deadline = 0)
    {
        ArgumentOutOfRangeException.ThrowIfZero(version);
        ReserveVersionsThrough(version);
        var entry = Entry.Create(key, valueJson, version, deadline);
        var shard = ShardFor(key);
        bool replaced;
        lock (shard.Lock)
            replaced = Replace(shard, key, entry);
        Queue(entry);
        return replaced ? PutOutcome.Replaced : PutOutcome.Created;
    }

    /// <summary>
    /// Stores the value under a new version if <paramref name="condition"/> holds for the key's
    /// current version: the check and the change happen under one lock.
    /// <paramref name="deadline"/>: Unix ms from which the value is gone; 0: none.
    /// </summary>
    public WriteResult Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> valueJson, Precondition condition, long deadline = 0)
    {
        var entry = Entry.Create(key, valueJson, 0, deadline); // built outside the lock, versioned inside it
        var shard = ShardFor(key);
        WriteResult result;
        lock (shard.Lock)
        {
            if (!condition.IsNone)
            {
                var current = TryGetLive(shard, key, out var found) ? Entry.Version(found) : 0;
                if (condition.Evaluate(current) != PreconditionResult.Holds)
                    return new WriteResult(WriteOutcome.PreconditionFailed, current);
            }
            // Taken under the lock, so one key's versions only ever grow.
            var version = NewVersion();
            Entry.SetVersion(entry, version);
            result = new WriteResult(Replace(shard, key, entry) ? WriteOutcome.Replaced : WriteOutcome.Created, version);
        }
        Queue(entry);
        return result;
    }

    /// <summary>Removes the key; whether it held a value (one past its deadline did not).</summary>
    public bool TryRemove(ReadOnlySpan<byte> key)
    {
        var shard = ShardFor(key);
        lock (shard.Lock)
            return Take(shard, key);
    }

    /// <summary>Removes the key if it exists and <paramref name="condition"/> holds, in one step.</summary>
    public WriteResult Remove(ReadOnlySpan<byte> key, Precondition condition)
    {
        var shard = ShardFor(key);
        lock (shard.Lock)
        {
            if (condition.IsNone)
                return new WriteResult(Take(shard, key) ? WriteOutcome.Deleted : WriteOutcome.NotFound, 0);
            if (!TryGetLive(shard, key, out var found))
                return new WriteResult(WriteOutcome.NotFound, 0);
            var current = Entry.Version(found);
            if (condition.Evaluate(current) != PreconditionResult.Holds)
                return new WriteResult(WriteOutcome.PreconditionFailed, current);
            Take(shard, key);
            return new WriteResult(WriteOutcome.Deleted, 0);
        }
    }

    /// <summary>
    /// Completes once the key's version is not <paramref name="version"/> (0: absent). The
    /// version is read and the waiter registered under the shard's lock, where every change
    /// wakes the key's waiters, so no change in between is missed.
    /// </summary>
    public ValueTask WaitForChangeAsync(ReadOnlyMemory<byte> key, ulong version, CancellationToken cancel)
    {
        var shard = ShardFor(key.Span);
        KeyWaiters waiters;
        lock (shard.Lock)
        {
            var current = TryGetLive(shard, key.Span, out var entry) ? Entry.Version(entry) : 0;
            if (current != version)
                return ValueTask.CompletedTask;
            var byKey = shard.WaitersByKey();
            if (!byKey.TryGetValue(key.Span, out waiters!))
                byKey[key.Span] = waiters = new KeyWaiters();
            waiters.Count++;
        }
        Interlocked.Increment(ref _waiting);
        return WaitAsync(shard, key, waiters, cancel);
    }

    private async ValueTask WaitAsync(Shard shard, ReadOnlyMemory<byte> key, KeyWaiters waiters, CancellationToken cancel)
    {
        try
        {
            await waiters.Changed.WaitAsync(cancel).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
            lock (shard.Lock)
            {
                // The last one to leave an unchanged key takes its waiters out (a change already did).
                var byKey = shard.WaitersByKey();
                if (--waiters.Count == 0 && byKey.TryGetValue(key.Span, out var current) && current == waiters)
                    byKey.Remove(key.Span);
            }
        }
    }

    /// <summary>The newest version given out (or reserved); 0 before any.</summary>
    public ulong LastVersion => Interlocked.Read(ref _lastVersion);

    /// <summary>A version no value has had in this store (nor will): for a caller that must know it before the change.</summary>
    public ulong NewVersion() => Interlocked.Increment(ref _lastVersion);

    /// <summary>Makes every later new version greater than <paramref name="version"/> (e.g. one a log has used).</summary>
    public void ReserveVersionsThrough(ulong version)
    {
        var last = Interlocked.Read(ref _lastVersion);
        while (last < version)
        {
            var seen = Interlocked.CompareExchange(ref _lastVersion, version, last);
            if (seen == last)
                return;
            last = seen;
        }
    }

    public ValueTask<StoredValue> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancel) =>
        new(TryGet(key.Span, out var entry) ? new StoredValue(true, Entry.ValueMemory(entry), Entry.Version(entry)) : StoredValue.Missing);

    public string VersionScope { get; }

    public ValueTask<WriteResult> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, Precondition condition, Lifetime lifetime, CancellationToken cancel) =>
        new(Put(key.Span, valueJson.Span, condition, lifetime.IsForever ? 0 : lifetime.Deadline(NowUnixMs)));

    public ValueTask<WriteResult> DeleteAsync(ReadOnlyMemory<byte> key, Precondition condition, CancellationToken cancel) =>
        new(Remove(key.Span, condition));

    /// <summary>Total length of the stored values; walks every shard, so for scrapes, not requests.</summary>
    public long ValueBytes()
    {
        long total = 0;
        foreach (var shard in _shards)
            lock (shard.Lock)
                foreach (var entry in shard.Entries)
                    total += Entry.ValueLength(entry);
        return total;
    }

    /// <summary>Every entry, each shard copied under its lock (entries never change); for snapshots, not requests.</summary>
    public IEnumerable<byte[]> Entries()
    {
        foreach (var shard in _shards)
        {
            byte[][] copy;
            lock (shard.Lock)
                copy = [.. shard.Entries];
            foreach (var entry in copy)
                yield return entry;
        }
    }

    /// <summary>Puts the entry in place of the key's old one and wakes the key's waiters; whether it held a value.</summary>
    private bool Replace(Shard shard, ReadOnlySpan<byte> key, byte[] entry)
    {
        var replaced = Take(shard, key);
        shard.Entries.Add(entry);
        return replaced;
    }

    /// <summary>Takes the key's entry out and wakes its waiters; whether it held a value (one past its deadline did not).</summary>
    private bool Take(ReadOnlySpan<byte> key, Shard shard, byte[] found)
    {
        shard.Entries.Remove(found);
        Wake(shard, key);
        if (Entry.Deadline(found) == 0)
            return true;
        _sweeper.NoteStale();
        return !Entry.ExpiredAt(found, NowUnixMs);
    }

    private bool Take(Shard shard, ReadOnlySpan<byte> key)
    {
        if (shard.ByKey.TryGetValue(key, out var found))
            return Take(key, shard, found);
        Wake(shard, key); // a creation is a change too
        return false;
    }

    /// <summary>The key's entry unless it is past its deadline; under the shard's lock.</summary>
    private bool TryGetLive(Shard shard, ReadOnlySpan<byte> key, out byte[] entry) =>
        shard.ByKey.TryGetValue(key, out entry!) && !(Entry.Deadline(entry) != 0 && Entry.ExpiredAt(entry, NowUnixMs));

    private static void Wake(Shard shard, ReadOnlySpan<byte> key)
    {
        if (shard.WaitersLookup is { Dictionary.Count: > 0 } byKey && byKey.Remove(key, out _, out var woken))
            woken.Wake();
    }

    private void Queue(byte[] entry)
    {
        if (Entry.Deadline(entry) is var deadline and not 0)
            _sweeper.Add(entry, deadline);
    }

    /// <summary>The sweeper's turn at an entry whose deadline passed: out, if still the key's; its waiters wake.</summary>
    private bool ExpireIfCurrent(byte[] entry)
    {
        var key = Entry.Key(entry);
        var shard = ShardFor(key);
        lock (shard.Lock)
        {
            if (!shard.ByKey.TryGetValue(key, out var current) || !ReferenceEquals(current, entry))
                return false;
            shard.Entries.Remove(entry);
            Wake(shard, key);
            return true;
        }
    }

    private bool IsCurrent(byte[] entry)
    {
        var key = Entry.Key(entry);
        var shard = ShardFor(key);
        lock (shard.Lock)
            return shard.ByKey.TryGetValue(key, out var current) && ReferenceEquals(current, entry);
    }

    /// <summary>Stops the sweep timer.</summary>
    public void Dispose() => _sweeper.Dispose();

    private Shard ShardFor(ReadOnlySpan<byte> key) =>
        _shards[(uint)EntryKeyComparer.Hash(key) >> (32 - ShardBits)];

    private sealed class Shard
    {
        public readonly Lock Lock = new();
        public readonly HashSet<byte[]> Entries;
        public readonly HashSet<byte[]>.AlternateLookup<ReadOnlySpan<byte>> ByKey;

        public Shard()
        {
            Entries = new HashSet<byte[]>(EntryKeyComparer.Instance);
            ByKey = Entries.GetAlternateLookup<ReadOnlySpan<byte>>();
        }

        /// <summary>Watched keys' waiters; null until a key of this shard is first watched, so writes elsewhere only test a field.</summary>
        public Dictionary<byte[], KeyWaiters>.AlternateLookup<ReadOnlySpan<byte>>? WaitersLookup;

        public Dictionary<byte[], KeyWaiters>.AlternateLookup<ReadOnlySpan<byte>> WaitersByKey() =>
            WaitersLookup ??= new Dictionary<byte[], KeyWaiters>(KeyBytesComparer.Instance).GetAlternateLookup<ReadOnlySpan<byte>>();

        public int Count => Entries.Count;
    }
}
