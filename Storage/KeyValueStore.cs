using System.Collections.Concurrent;

namespace AotKvs.Storage;

internal enum PutOutcome { Created, Replaced }

/// <summary>
/// The data of a main instance: keys to the exact UTF-8 JSON text of their values.
/// Every operation is one atomic step on a concurrent map, so concurrent PUTs of a new key
/// yield exactly one Created, and a DELETE racing a PUT never loses or duplicates.
/// </summary>
internal sealed class KeyValueStore
{
    private readonly ConcurrentDictionary<string, byte[]> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]>.AlternateLookup<ReadOnlySpan<char>> _bySpan;

    public KeyValueStore() => _bySpan = _entries.GetAlternateLookup<ReadOnlySpan<char>>();

    public int Count => _entries.Count;

    /// <summary>Total length of the stored values; walks the map, so for scrapes, not requests.</summary>
    public long ValueBytes()
    {
        long total = 0;
        foreach (var entry in _entries)
            total += entry.Value.Length;
        return total;
    }

    /// <summary>Looks a key up without allocating a string for it.</summary>
    public bool TryGet(ReadOnlySpan<char> key, out byte[] value) => _bySpan.TryGetValue(key, out value!);

    public PutOutcome Put(string key, byte[] value)
    {
        // Add if absent, else swap out the exact value we saw; retry if a DELETE or another
        // PUT got in between. Each exit is a single atomic map operation.
        while (true)
        {
            if (_entries.TryAdd(key, value))
                return PutOutcome.Created;
            if (_entries.TryGetValue(key, out var current) && _entries.TryUpdate(key, value, current))
                return PutOutcome.Replaced;
        }
    }

    public bool TryRemove(ReadOnlySpan<char> key) => _bySpan.TryRemove(key, out _, out _);
}
