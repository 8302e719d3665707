using System.Text;
using AotKvs.Storage.Log;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>The data dir's record format: what is written reads back, and no damage passes as a record.</summary>
[Trait("Category", "Unit")]
public sealed class LogRecordTests
{
    private static byte[] Record(RecordKind kind, string key, string value, ulong version = 0, long deadline = 0)
    {
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var valueBytes = Encoding.UTF8.GetBytes(value);
        var record = new byte[LogRecord.Size(kind, keyBytes.Length, valueBytes.Length)];
        Assert.Equal(record.Length, LogRecord.Write(record, kind, keyBytes, valueBytes, version, deadline));
        return record;
    }

    [Fact]
    public void Crc32C_gives_the_standard_check_value() =>
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));

    [Theory]
    [InlineData((byte)3, "k", "{\"a\": [1, 2.50, null]}", 1UL, 0L)]
    [InlineData((byte)3, "ключ/🙂", "\"\"", LogRecord.MaxVersion, 0L)]
    [InlineData((byte)4, "", "", 300UL, 0L)]
    [InlineData((byte)1, "k", "[1]", 0UL, 0L)]   // from before versions
    [InlineData((byte)2, "gone", "", 0UL, 0L)]
    [InlineData((byte)5, "k", "{\"a\": 1}", 9UL, 1_765_000_000_123L)] // a PUT with a deadline
    [InlineData((byte)5, "ключ/🙂", "\"\"", LogRecord.MaxVersion, long.MaxValue)]
    [InlineData((byte)5, "", "1", 1UL, 1L)]
    public void A_record_reads_back_as_written(byte kindByte, string key, string value, ulong version, long deadline)
    {
        var kind = (RecordKind)kindByte;
        var record = Record(kind, key, value, version, deadline);
        Assert.Equal(ReadStatus.Record, LogRecord.TryRead(record, out var readKind, out var readKey, out var readValue, out var readVersion, out var readDeadline, out var size));
        Assert.Equal(kind, readKind);
        Assert.Equal(key, Encoding.UTF8.GetString(readKey));
        Assert.Equal(value, Encoding.UTF8.GetString(readValue));
        Assert.Equal(version, readVersion);
        Assert.Equal(deadline, readDeadline);
        Assert.Equal(record.Length, size);
    }

    [Theory]
    [InlineData((byte)1)]
    [InlineData((byte)2)]
    [InlineData((byte)3)]
    [InlineData((byte)4)]
    public void Only_a_put_with_a_deadline_carries_one(byte kindByte)
    {
        var kind = (RecordKind)kindByte;
        var (key, value) = kind == RecordKind.VersionFloor ? ("", "") : kind == RecordKind.Delete ? ("k", "") : ("k", "1");
        // A deadline handed to a kind without the field is not written: the record is the kind's usual size and reads back without one.
        var record = Record(kind, key, value, 5, deadline: 1_765_000_000_000);
        Assert.Equal(LogRecord.Size(kind, key.Length, value.Length), record.Length);
        Assert.Equal(ReadStatus.Record, LogRecord.TryRead(record, out _, out _, out _, out _, out var deadline, out _));
        Assert.Equal(0, deadline);
    }

    [Fact]
    public void A_put_with_a_deadline_is_the_versioned_layout_with_the_deadline_after_the_version()
    {
        // [crc][payload 22][kind 5][key length 1][version 0x0102 LE, 8 bytes][deadline 0x0A0B0C LE, 8 bytes][k][[1]]
        var record = Record(RecordKind.ExpiringPut, "k", "[1]", 0x0102, 0x0A0B0C);
        Assert.Equal(new byte[] { 22, 0, 0, 0, 5, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0x0C, 0x0B, 0x0A, 0, 0, 0, 0, 0, (byte)'k', (byte)'[', (byte)'1', (byte)']' }, record[4..]);
        Assert.Equal(Crc32C.Compute(record.AsSpan(4)), System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(record));
        // 8 bytes longer than kind 3.
        Assert.Equal(record.Length - 8, Record(RecordKind.VersionedPut, "k", "[1]", 0x0102).Length);
    }

    [Fact]
    public void A_versioned_put_is_the_old_layout_with_the_version_after_the_key_length()
    {
        // [crc][payload 14][kind 3][key length 1][version 0x0102 LE, 8 bytes][k][[1]]
        var record = Record(RecordKind.VersionedPut, "k", "[1]", 0x0102);
        Assert.Equal(new byte[] { 14, 0, 0, 0, 3, 1, 2, 1, 0, 0, 0, 0, 0, 0, (byte)'k', (byte)'[', (byte)'1', (byte)']' }, record[4..]);
        Assert.Equal(Crc32C.Compute(record.AsSpan(4)), System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(record));
        // The old layout, kind 1, is 8 bytes shorter.
        Assert.Equal(record.Length - 8, Record(RecordKind.Put, "k", "[1]").Length);
    }

    [Theory]
    [InlineData((byte)3, "k", "1", 0UL, 0L)]      // version 0 is "none"
    [InlineData((byte)4, "", "", 0UL, 0L)]
    [InlineData((byte)4, "k", "", 5UL, 0L)]      // a floor names no key
    [InlineData((byte)4, "", "1", 5UL, 0L)]      // and has no value
    [InlineData((byte)3, "k", "1", LogRecord.MaxVersion + 1, 0L)] // near memory's deadline flag: never a version
    [InlineData((byte)3, "k", "1", 1UL << 63, 0L)]
    [InlineData((byte)3, "k", "1", ulong.MaxValue, 0L)]
    [InlineData((byte)4, "", "", LogRecord.MaxVersion + 1, 0L)]
    [InlineData((byte)4, "", "", ulong.MaxValue, 0L)]
    [InlineData((byte)5, "k", "1", 1UL << 63, 1_765_000_000_000L)]
    [InlineData((byte)5, "k", "1", 0UL, 1_765_000_000_000L)]
    [InlineData((byte)5, "k", "1", 5UL, 0L)]     // deadline 0 is "none": that is kind 3
    [InlineData((byte)5, "k", "1", 5UL, -1L)]    // before 1970: never written
    [InlineData((byte)5, "k", "1", 5UL, long.MinValue)]
    public void A_version_record_that_means_nothing_is_corrupt(byte kind, string key, string value, ulong version, long deadline) =>
        Assert.Equal(ReadStatus.Corrupt, LogRecord.TryRead(Record((RecordKind)kind, key, value, version, deadline), out _, out _, out _, out _, out _, out _));

    [Fact]
    public void A_put_with_a_deadline_cut_before_its_deadline_ends_is_corrupt()
    {
        // Kind 5 with a payload that holds the version but only part of the deadline, re-sealed.
        var record = Record(RecordKind.VersionedPut, "", "1234", 7); // payload 14: kind, key length, version, 4 bytes
        record[8] = (byte)RecordKind.ExpiringPut;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record, Crc32C.Compute(record.AsSpan(4)));
        Assert.Equal(ReadStatus.Corrupt, LogRecord.TryRead(record, out _, out _, out _, out _, out _, out _));
    }

    [Fact]
    public void Every_cut_short_record_is_incomplete_and_says_how_much_it_needs()
    {
        var record = Record(RecordKind.Put, "key", "[1,2,3]");
        for (var length = 0; length < record.Length; length++)
        {
            Assert.Equal(ReadStatus.Incomplete, LogRecord.TryRead(record.AsSpan(0, length), out _, out _, out _, out _, out _, out var needed));
            Assert.True(needed > length);
        }
    }

    [Theory]
    [InlineData((byte)3)]
    [InlineData((byte)5)]
    public void Every_flipped_bit_is_caught(byte kind)
    {
        var record = Record((RecordKind)kind, "key", "{\"v\": 12345}", 77, 1_765_000_000_000);
        for (var bit = 0; bit < record.Length * 8; bit++)
        {
            var damaged = (byte[])record.Clone();
            damaged[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.NotEqual(ReadStatus.Record, LogRecord.TryRead(damaged, out _, out _, out _, out _, out _, out _));
        }
    }

    [Fact]
    public void Zeros_are_not_a_record() =>
        Assert.Equal(ReadStatus.Corrupt, LogRecord.TryRead(new byte[64], out _, out _, out _, out _, out _, out _));

    [Fact]
    public void A_delete_with_a_value_is_corrupt()
    {
        var record = Record(RecordKind.Put, "k", "1");
        record[8] = (byte)RecordKind.Delete;
        // Re-seal it so that only the meaning is wrong, not the checksum.
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record, Crc32C.Compute(record.AsSpan(4)));
        Assert.Equal(ReadStatus.Corrupt, LogRecord.TryRead(record, out _, out _, out _, out _, out _, out _));
    }
}
