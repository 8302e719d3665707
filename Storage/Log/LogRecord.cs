using System.Buffers.Binary;

namespace AotKvs.Storage.Log;

/// <summary>
/// A record's kind. <see cref="Put"/> is the format before versions: still read (its value
/// gets a version at recovery), never written. <see cref="Delete"/> needs no version.
/// <see cref="ExpiringPut"/> is a PUT whose value has a deadline; a PUT without one is
/// <see cref="VersionedPut"/>, which so also takes away any deadline the key had.
/// </summary>
internal enum RecordKind : byte { Put = 1, Delete = 2, VersionedPut = 3, VersionFloor = 4, ExpiringPut = 5 }

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
/// [CRC-32C of the rest: 4][payload length: 4][kind: 1][key length: 1][version: 8][deadline: 8][key][value JSON].
/// The checksum covers the length too, so a torn or flipped length is caught like any other
/// damage. A DELETE has no value. The version (1 to <see cref="MaxVersion"/>) is there for <see cref="RecordKind.VersionedPut"/>
/// and <see cref="RecordKind.ExpiringPut"/> (the value's) and <see cref="RecordKind.VersionFloor"/>
/// (every version up to it has been given: a snapshot starts with one, as deleted and expired
/// keys' versions are in no entry); the kinds from before versions (<see cref="RecordKind.Put"/>,
/// <see cref="RecordKind.Delete"/>) have no version field. The deadline (Unix milliseconds,
/// ≥ 1) is there for <see cref="RecordKind.ExpiringPut"/> only. Expiry itself is never a
/// record: every reader of the log drops the value at the deadline its record carries.
/// </summary>
internal static class LogRecord
{
    public const int HeaderBytes = 8;

    private const int FixedPayloadBytes = 2;
    private const int VersionBytes = 8;
    private const int DeadlineBytes = 8;

    /// <summary>
    /// The largest version a record may carry: a store's counter never comes near it, and it
    /// leaves room below 2^63 (where <see cref="Entry"/> keeps a flag) for the versions that
    /// recovery gives records from before versions.
    /// </summary>
    public const ulong MaxVersion = 1UL << 62;

    public static bool HasVersion(RecordKind kind) => kind is RecordKind.VersionedPut or RecordKind.VersionFloor or RecordKind.ExpiringPut;

    public static bool HasDeadline(RecordKind kind) => kind == RecordKind.ExpiringPut;

    public static int Size(RecordKind kind, int keyLength, int valueLength) =>
        HeaderBytes + FixedBytes(kind) + keyLength + valueLength;

    /// <summary>
    /// Writes the record at the start of <paramref name="destination"/>; returns its size.
    /// <paramref name="deadline"/> is written for <see cref="RecordKind.ExpiringPut"/> only.
    /// </summary>
    public static int Write(Span<byte> destination, RecordKind kind, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong version = 0, long deadline = 0)
    {
        var fixedBytes = FixedBytes(kind);
        var payload = fixedBytes + key.Length + value.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)payload);
        destination[8] = (byte)kind;
        destination[9] = checked((byte)key.Length);
        if (HasVersion(kind))
            BinaryPrimitives.WriteUInt64LittleEndian(destination[10..], version);
        if (HasDeadline(kind))
            BinaryPrimitives.WriteInt64LittleEndian(destination[18..], deadline);
        var keyAt = HeaderBytes + fixedBytes;
        key.CopyTo(destination[keyAt..]);
        value.CopyTo(destination[(keyAt + key.Length)..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Crc32C.Compute(destination.Slice(4, 4 + payload)));
        return HeaderBytes + payload;
    }

    /// <summary>
    /// Reads the record at the start of <paramref name="data"/>; <paramref name="version"/> is 0
    /// for the kinds without one, <paramref name="deadline"/> 0 for every kind but <see cref="RecordKind.ExpiringPut"/>.
    /// </summary>
    public static ReadStatus TryRead(ReadOnlySpan<byte> data, out RecordKind kind, out ReadOnlySpan<byte> key,
        out ReadOnlySpan<byte> value, out ulong version, out long deadline, out long needed)
    {
        kind = default;
        key = value = default;
        version = 0;
        deadline = 0;
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
        var fixedBytes = FixedBytes(kind);
        int keyLength = record[9];
        if (fixedBytes + keyLength > payload)
            return ReadStatus.Corrupt;
        if (HasVersion(kind))
            version = BinaryPrimitives.ReadUInt64LittleEndian(record[10..]);
        if (HasDeadline(kind))
            deadline = BinaryPrimitives.ReadInt64LittleEndian(record[18..]);
        key = record.Slice(HeaderBytes + fixedBytes, keyLength);
        value = record[(HeaderBytes + fixedBytes + keyLength)..];
        var versionValid = version is > 0 and <= MaxVersion;
        return kind switch
        {
            RecordKind.Put => ReadStatus.Record,
            RecordKind.Delete => value.IsEmpty ? ReadStatus.Record : ReadStatus.Corrupt,
            RecordKind.VersionedPut => versionValid ? ReadStatus.Record : ReadStatus.Corrupt,
            RecordKind.VersionFloor => versionValid && key.IsEmpty && value.IsEmpty ? ReadStatus.Record : ReadStatus.Corrupt,
            RecordKind.ExpiringPut => versionValid && deadline > 0 ? ReadStatus.Record : ReadStatus.Corrupt, // 0 would be "none"
            _ => ReadStatus.Corrupt,
        };
    }

    /// <summary>The payload's bytes before the key: kind, key length, and the version and deadline where the kind has them.</summary>
    private static int FixedBytes(RecordKind kind) =>
        FixedPayloadBytes + (HasVersion(kind) ? VersionBytes : 0) + (HasDeadline(kind) ? DeadlineBytes : 0);
}
