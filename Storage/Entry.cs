using System.Buffers.Binary;

namespace AotKvs.Storage;

/// <summary>
/// One stored key, its value and the value's version in a single array:
/// [version, 8 bytes][key length][key UTF-8][value JSON]. One object per key keeps the
/// per-key overhead near one array header. Entries are never changed once a store has
/// published them; a PUT replaces the whole entry.
/// </summary>
internal static class Entry
{
    /// <summary>Longest key in UTF-8 bytes that the one-byte length prefix can hold.</summary>
    public const int MaxKeyBytes = byte.MaxValue;

    private const int KeyLengthAt = sizeof(ulong);
    private const int KeyAt = KeyLengthAt + 1;

    /// <summary>A new entry; <paramref name="version"/> may be set later, but only before the entry is published.</summary>
    public static byte[] Create(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong version = 0)
    {
        if (key.Length > MaxKeyBytes)
            throw new ArgumentOutOfRangeException(nameof(key), "keys are at most 50 code points, 200 UTF-8 bytes");
        var entry = GC.AllocateUninitializedArray<byte>(KeyAt + key.Length + value.Length);
        SetVersion(entry, version);
        entry[KeyLengthAt] = (byte)key.Length;
        key.CopyTo(entry.AsSpan(KeyAt));
        value.CopyTo(entry.AsSpan(KeyAt + key.Length));
        return entry;
    }

    public static ulong Version(byte[] entry) => BinaryPrimitives.ReadUInt64LittleEndian(entry);

    /// <summary>For the store that is about to publish the entry, under the lock that publishes it.</summary>
    public static void SetVersion(byte[] entry, ulong version) => BinaryPrimitives.WriteUInt64LittleEndian(entry, version);

    public static ReadOnlySpan<byte> Key(byte[] entry) => entry.AsSpan(KeyAt, entry[KeyLengthAt]);

    public static ReadOnlySpan<byte> Value(byte[] entry) => entry.AsSpan(KeyAt + entry[KeyLengthAt]);

    /// <summary>The value as memory, so a slow reader can be sent it straight from the (immutable) entry.</summary>
    public static ReadOnlyMemory<byte> ValueMemory(byte[] entry) => entry.AsMemory(KeyAt + entry[KeyLengthAt]);

    public static int ValueLength(byte[] entry) => entry.Length - KeyAt - entry[KeyLengthAt];
}

/// <summary>Compares entries by their keys, and looks entries up by a bare key span.</summary>
internal sealed class EntryKeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly EntryKeyComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x is not null && y is not null && Entry.Key(x).SequenceEqual(Entry.Key(y));

    public int GetHashCode(byte[] entry) => Hash(Entry.Key(entry));

    public bool Equals(ReadOnlySpan<byte> key, byte[] entry) => key.SequenceEqual(Entry.Key(entry));

    public int GetHashCode(ReadOnlySpan<byte> key) => Hash(key);

    public byte[] Create(ReadOnlySpan<byte> key) =>
        throw new NotSupportedException("entries are created with their value");

    /// <summary>Seeded per process (HashCode), so clients cannot aim keys at one bucket.</summary>
    public static int Hash(ReadOnlySpan<byte> key)
    {
        var hash = new HashCode();
        hash.AddBytes(key);
        return hash.ToHashCode();
    }
}
