using System.Buffers.Binary;

namespace AotKvs.Storage.Log;

internal enum RecordKind : byte { Put = 1, Delete = 2 }

internal enum ReadStatus
{
    /// <summary>A whole, valid record.</summary>
    Record,

    /// <summary>The data ends before the record does; <c>needed</c> says how many bytes it takes.</summary>
    Incomplete,

    /// <summary>The checksum or a field is wrong: nothing from here on can be trusted.</summary>
    Corrupt,
}

/// <summary>
/// One change as the log and the snapshot hold it, little-endian:
/// [CRC-32C of the rest: 4][payload length: 4][kind: 1][key length: 1][key][value JSON].
/// The checksum covers the length too, so a torn or flipped length is caught like any other
/// damage. A DELETE has no value.
/// </summary>
internal static class LogRecord
{
    public const int HeaderBytes = 8;
    private const int FixedPayloadBytes = 2;

    public static int Size(int keyLength, int valueLength) => HeaderBytes + FixedPayloadBytes + keyLength + valueLength;

    /// <summary>Writes the record at the start of <paramref name="destination"/>; returns its size.</summary>
    public static int Write(Span<byte> destination, RecordKind kind, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var payload = FixedPayloadBytes + key.Length + value.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)payload);
        destination[8] = (byte)kind;
        destination[9] = checked((byte)key.Length);
        key.CopyTo(destination[10..]);
        value.CopyTo(destination[(10 + key.Length)..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Crc32C.Compute(destination.Slice(4, 4 + payload)));
        return HeaderBytes + payload;
    }

    /// <summary>Reads the record at the start of <paramref name="data"/>.</summary>
    public static ReadStatus TryRead(ReadOnlySpan<byte> data, out RecordKind kind, out ReadOnlySpan<byte> key,
        out ReadOnlySpan<byte> value, out long needed)
    {
        kind = default;
        key = value = default;
        needed = HeaderBytes;
        if (data.Length < HeaderBytes)
            return ReadStatus.Incomplete;
        var payload = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        if (payload < FixedPayloadBytes || payload > int.MaxValue - HeaderBytes)
            return ReadStatus.Corrupt;
        needed = HeaderBytes + payload;
        if (data.Length < needed)
            return ReadStatus.Incomplete;
        var record = data[..(int)needed];
        if (BinaryPrimitives.ReadUInt32LittleEndian(record) != Crc32C.Compute(record[4..]))
            return ReadStatus.Corrupt;
        kind = (RecordKind)record[8];
        int keyLength = record[9];
        if (FixedPayloadBytes + keyLength > payload)
            return ReadStatus.Corrupt;
        key = record.Slice(10, keyLength);
        value = record[(10 + keyLength)..];
        return kind == RecordKind.Put || (kind == RecordKind.Delete && value.IsEmpty) ? ReadStatus.Record : ReadStatus.Corrupt;
    }
}
