using System.Buffers.Binary;

namespace AotKvs.Storage;

/// <summary>
/// One stored key, its value and the value's version in a single array:
/// [version, 8 bytes][key length][key UTF-8][value JSON], or, for a value with a deadline,
/// [version with its top bit set][deadline, 8 bytes][key length][key][value]. One object per
/// key keeps the per-key overhead near one array header, and a key without a deadline pays
/// nothing for expiry but one bit. Entries are never changed once a store has published them;
/// a PUT replaces the whole entry.
/// </summary>
internal static class Entry
{
    /// <summary>Longest key in UTF-8 bytes that the one-byte length prefix can hold.</summary>
    public const int MaxKeyBytes = byte.MaxValue;

    // Versions stay far below 2^63, so the top bit says whether a deadline follows.
    private const ulong DeadlineFlag = 1UL << 63;
    private const int PlainKeyLengthAt = sizeof(ulong);
    private const int TimedKeyLengthAt = PlainKeyLengthAt + sizeof(long);

    /// <summary>
    /// A new entry; <paramref name="version"/> may be set later, but only before the entry is
    /// published. <paramref name="deadline"/>: Unix milliseconds from which the value is gone; 0: none.
    /// </summary>
    public static byte[] Create(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong version = 0, long deadline = 0)
    {
        if (key.Length > MaxKeyBytes)
            throw new ArgumentOutOfRangeException(nameof(key), "keys are at most 50 code points, 200 UTF-8 bytes");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(version, (ulong)long.MaxValue); // the top bit is the deadline's flag
        var keyLengthAt = deadline == 0 ? PlainKeyLengthAt : TimedKeyLengthAt;
        var entry = GC.AllocateUninitializedArray<byte>(keyLengthAt + 1 + key.Length + value.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(entry, deadline == 0 ? version : version | DeadlineFlag);
        if (deadline != 0)
            BinaryPrimitives.WriteInt64LittleEndian(entry.AsSpan(PlainKeyLengthAt), deadline);
        entry[keyLengthAt] = (byte)key.Length;
        key.CopyTo(entry.AsSpan(keyLengthAt + 1));
        value.CopyTo(entry.AsSpan(keyLengthAt + 1 + key.Length));
        return entry;
    }

    public static ulong Version(byte[] entry) => BinaryPrimitives.ReadUInt64LittleEndian(entry) & ~DeadlineFlag;

    /// <summary>For the store that is about to publish the entry, under the lock that publishes it.</summary>
    public static void SetVersion(byte[] entry, ulong version) =>
        BinaryPrimitives.WriteUInt64LittleEndian(entry, version | (BinaryPrimitives.ReadUInt64LittleEndian(entry) & DeadlineFlag));

    /// <summary>Unix milliseconds from which the value is gone; 0: it has no deadline.</summary>
    public static long Deadline(byte[] entry) =>
        HasDeadline(entry) ? BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan(PlainKeyLengthAt)) : 0;

    /// <summary>Whether the value is gone at <paramref name="nowUnixMs"/>; a value without a deadline never is.</summary>
    public static bool ExpiredAt(byte[] entry, long nowUnixMs) => HasDeadline(entry) && Deadline(entry) <= nowUnixMs;

    public static ReadOnlySpan<byte> Key(byte[] entry)
    {
        var at = KeyLengthAt(entry);
        return entry.AsSpan(at + 1, entry[at]);
    }

    public static ReadOnlySpan<byte> Value(byte[] entry) => entry.AsSpan(ValueAt(entry));

    /// <summary>The value as memory, so a slow reader can be sent it straight from the (immutable) entry.</summary>
    public static ReadOnlyMemory<byte> ValueMemory(byte[] entry) => entry.AsMemory(ValueAt(entry));

    public static int ValueLength(byte[] entry) => entry.Length - ValueAt(entry);

    // The top byte of the little-endian version holds the flag.
    private static bool HasDeadline(byte[] entry) => (entry[PlainKeyLengthAt - 1] & 0x80) != 0;

    private static int KeyLengthAt(byte[] entry) => HasDeadline(entry) ? TimedKeyLengthAt : PlainKeyLengthAt;

    private static int ValueAt(byte[] entry)
    {
        var at = KeyLengthAt(entry);
        return at + 1 + entry[at];
    }
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
