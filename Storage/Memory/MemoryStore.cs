namespace AotKvs.Storage.Memory;

/// <summary>
/// The default store: a main's data in its own memory, lost when it stops.
/// Keys are spread over shards by hash; each shard is a set of entries under its own lock,
/// so every PUT and DELETE decides its outcome atomically (32 concurrent PUTs of a new key
/// give one Created), while requests for different keys rarely wait for each other.
/// </summary>
internal sealed class MemoryStore : IKeyValueStore
{
    private const int ShardBits = 6;
    private readonly Shard[] _shards = new Shard[1 << ShardBits];

    public MemoryStore()
    {
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

    /// <summary>The whole entry, immutable; its value is <see cref="Entry.Value"/>.</summary>
    public bool TryGet(ReadOnlySpan<byte> key, out byte[] entry)
    {
        var shard = ShardFor(key);
        lock (shard.Lock)
            return shard.ByKey.TryGetValue(key, out entry!);
    }

    public PutOutcome Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> valueJson)
    {
        var entry = Entry.Create(key, valueJson); // built outside the lock
        var shard = ShardFor(key);
        lock (shard.Lock)
        {
            if (shard.ByKey.Remove(key))
            {
                shard.Entries.Add(entry);
                return PutOutcome.Replaced;
            }
            shard.Entries.Add(entry);
            return PutOutcome.Created;
        }
    }

    public bool TryRemove(ReadOnlySpan<byte> key)
    {
        var shard = ShardFor(key);
        lock (shard.Lock)
            return shard.ByKey.Remove(key);
    }

    public ValueTask<StoredValue> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancel) =>
        new(TryGet(key.Span, out var entry) ? new StoredValue(true, Entry.ValueMemory(entry)) : StoredValue.Missing);

    public string VersionScope => "";

    public ValueTask<WriteResult> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, Precondition condition, CancellationToken cancel)
    {
        Unconditional.Require(condition);
        return new(new WriteResult(Put(key.Span, valueJson.Span) == PutOutcome.Created ? WriteOutcome.Created : WriteOutcome.Replaced, 0));
    }

    public ValueTask<WriteResult> DeleteAsync(ReadOnlyMemory<byte> key, Precondition condition, CancellationToken cancel)
    {
        Unconditional.Require(condition);
        return new(new WriteResult(TryRemove(key.Span) ? WriteOutcome.Deleted : WriteOutcome.NotFound, 0));
    }

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
