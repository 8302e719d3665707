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
/// </summary>
internal sealed class MemoryStore : IKeyValueStore
{
    private const int ShardBits = 6;
    private readonly Shard[] _shards = new Shard[1 << ShardBits];
    private ulong _lastVersion;

    /// <summary>A store whose versions are named by a new random scope, so no tag from an earlier process ever matches.</summary>
    public MemoryStore() : this(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)))
    {
    }

    public MemoryStore(string versionScope)
    {
        VersionScope = versionScope;
        for (var i = 0; i < _shards.Length; i++)
            _shards[i] = new Shard();
    }

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

    /// <summary>The whole entry, immutable; its value is <see cref="Entry.Value"/>, its version <see cref="Entry.Version"/>.</summary>
    public bool TryGet(ReadOnlySpan<byte> key, out byte[] entry)
    {
        var shard = ShardFor(key);
        lock (shard.Lock)
            return shard.ByKey.TryGetValue(key, out entry!);
    }

    /// <summary>Stores the value under a new version.</summary>
    public PutOutcome Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> valueJson) =>
        Put(key, valueJson, Precondition.None).Outcome == WriteOutcome.Created ? PutOutcome.Created : PutOutcome.Replaced;

    /// <summary>
    /// Stores the value under a version chosen by the caller (≥ 1, e.g. one read back from a
    /// log); later new versions are above it.
    /// </summary>
    public PutOutcome Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> valueJson, ulong version)
    {
        ArgumentOutOfRangeException.ThrowIfZero(version);
        ReserveVersionsThrough(version);
        var entry = Entry.Create(key, valueJson, version);
        var shard = ShardFor(key);
        lock (shard.Lock)
            return Replace(shard, key, entry) ? PutOutcome.Replaced : PutOutcome.Created;
    }

    /// <summary>
    /// Stores the value under a new version if <paramref name="condition"/> holds for the key's
    /// current version: the check and the change happen under one lock.
    /// </summary>
    public WriteResult Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> valueJson, Precondition condition)
    {
        var entry = Entry.Create(key, valueJson); // built outside the lock, versioned inside it
        var shard = ShardFor(key);
        lock (shard.Lock)
        {
            if (!condition.IsNone)
            {
                var current = shard.ByKey.TryGetValue(key, out var found) ? Entry.Version(found) : 0;
                if (condition.Evaluate(current) != PreconditionResult.Holds)
                    return new WriteResult(WriteOutcome.PreconditionFailed, current);
            }
            // Taken under the lock, so one key's versions only ever grow.
            var version = NewVersion();
            Entry.SetVersion(entry, version);
            return new WriteResult(Replace(shard, key, entry) ? WriteOutcome.Replaced : WriteOutcome.Created, version);
        }
    }

    public bool TryRemove(ReadOnlySpan<byte> key)
    {
        var shard = ShardFor(key);
        lock (shard.Lock)
            return shard.ByKey.Remove(key);
    }

    /// <summary>Removes the key if it exists and <paramref name="condition"/> holds, in one step.</summary>
    public WriteResult Remove(ReadOnlySpan<byte> key, Precondition condition)
    {
        var shard = ShardFor(key);
        lock (shard.Lock)
        {
            if (condition.IsNone)
                return new WriteResult(shard.ByKey.Remove(key) ? WriteOutcome.Deleted : WriteOutcome.NotFound, 0);
            if (!shard.ByKey.TryGetValue(key, out var found))
                return new WriteResult(WriteOutcome.NotFound, 0);
            var current = Entry.Version(found);
            if (condition.Evaluate(current) != PreconditionResult.Holds)
                return new WriteResult(WriteOutcome.PreconditionFailed, current);
            shard.Entries.Remove(found);
            return new WriteResult(WriteOutcome.Deleted, 0);
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

    public ValueTask<WriteResult> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, Precondition condition, CancellationToken cancel) =>
        new(Put(key.Span, valueJson.Span, condition));

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

    /// <summary>Puts the entry in place of the key's old one; whether there was one.</summary>
    private static bool Replace(Shard shard, ReadOnlySpan<byte> key, byte[] entry)
    {
        var replaced = shard.ByKey.Remove(key);
        shard.Entries.Add(entry);
        return replaced;
    }

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

        public int Count => Entries.Count;
    }
}
