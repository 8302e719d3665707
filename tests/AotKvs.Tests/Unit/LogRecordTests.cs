using System.Text;
using AotKvs.Storage.Log;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>The data dir's record format: what is written reads back, and no damage passes as a record.</summary>
[Trait("Category", "Unit")]
public sealed class LogRecordTests
{
    private static byte[] Record(RecordKind kind, string key, string value)
    {
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var valueBytes = Encoding.UTF8.GetBytes(value);
        var record = new byte[LogRecord.Size(keyBytes.Length, valueBytes.Length)];
        Assert.Equal(record.Length, LogRecord.Write(record, kind, keyBytes, valueBytes));
        return record;
    }

    [Fact]
    public void Crc32C_gives_the_standard_check_value() =>
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));

    [Theory]
    [InlineData(true, "k", "{\"a\": [1, 2.50, null]}")]
    [InlineData(true, "ключ/🙂", "\"\"")]
    [InlineData(false, "gone", "")]
    public void A_record_reads_back_as_written(bool put, string key, string value)
    {
        var kind = put ? RecordKind.Put : RecordKind.Delete;
        var record = Record(kind, key, value);
        Assert.Equal(ReadStatus.Record, LogRecord.TryRead(record, out var readKind, out var readKey, out var readValue, out var size));
        Assert.Equal(kind, readKind);
        Assert.Equal(key, Encoding.UTF8.GetString(readKey));
        Assert.Equal(value, Encoding.UTF8.GetString(readValue));
        Assert.Equal(record.Length, size);
    }

    [Fact]
    public void Every_cut_short_record_is_incomplete_and_says_how_much_it_needs()
    {
        var record = Record(RecordKind.Put, "key", "[1,2,3]");
        for (var length = 0; length < record.Length; length++)
        {
            Assert.Equal(ReadStatus.Incomplete, LogRecord.TryRead(record.AsSpan(0, length), out _, out _, out _, out var needed));
            Assert.True(needed > length);
        }
    }

    [Fact]
    public void Every_flipped_bit_is_caught()
    {
        var record = Record(RecordKind.Put, "key", "{\"v\": 12345}");
        for (var bit = 0; bit < record.Length * 8; bit++)
        {
            var damaged = (byte[])record.Clone();
            damaged[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.NotEqual(ReadStatus.Record, LogRecord.TryRead(damaged, out _, out _, out _, out _));
        }
    }

    [Fact]
    public void Zeros_are_not_a_record() =>
        Assert.Equal(ReadStatus.Corrupt, LogRecord.TryRead(new byte[64], out _, out _, out _, out _));

    [Fact]
    public void A_delete_with_a_value_is_corrupt()
    {
        var record = Record(RecordKind.Put, "k", "1");
        record[8] = (byte)RecordKind.Delete;
        // Re-seal it so that only the meaning is wrong, not the checksum.
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record, Crc32C.Compute(record.AsSpan(4)));
        Assert.Equal(ReadStatus.Corrupt, LogRecord.TryRead(record, out _, out _, out _, out _));
    }
}
