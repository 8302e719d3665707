using System.Buffers.Binary;
using System.Text;
using AotKvs.Storage.Log;
using AotKvs.Storage.Memory;
using AotKvs.Storage;
using Xunit.Abstractions;
using Xunit;

namespace AotKvs.Tests.Fuzz;

/// <summary>
/// The data dir's record reader (LogRecord.TryRead) and the replay of a whole file
/// (Recovery.Replay), on logs of real records damaged every way: flipped, cut short, length
/// fields of 0 to 4 GiB, and damage re-sealed with a correct checksum so that only the
/// meaning is wrong; records of every kind, from before versions and with them, with deadlines
/// past and to come. TryRead never throws and its status (Record, Incomplete with what it
/// needs, or Corrupt) is what a second, independent reading says; Replay keeps exactly the
/// records before the first bad one, and a length field never allocates what it claims.
/// </summary>
[Collection(FuzzCollection.Name), Trait("Category", "Unit")]
public sealed class LogRecordFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "kvs-fuzz-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Record(RecordKind kind, string key, string value, ulong version = 0, long deadline = 0)
    {
        var k = Encoding.UTF8.GetBytes(key);
        var v = Encoding.UTF8.GetBytes(value);
        var record = new byte[LogRecord.Size(kind, k.Length, v.Length)];
        LogRecord.Write(record, kind, k, v, version, deadline);
        return record;
    }

    // Deadlines far from any run's "now", so the model and the replay agree on which have passed.
    private const long LongPast = 1_600_000_000_000;   // 2020
    private const long FarFuture = 4_102_444_800_000;  // 2100

    /// <summary>A record's header with this payload length, sealed with a correct checksum over what follows.</summary>
    private static byte[] Sealed(uint payload, byte[] rest)
    {
        byte[] record = [0, 0, 0, 0, 0, 0, 0, 0, .. rest];
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), payload);
        BinaryPrimitives.WriteUInt32LittleEndian(record, Crc(record.AsSpan(4)));
        return record;
    }

    private static readonly byte[][] Corpus =
    [
        Record(RecordKind.Put, "k", "{\"a\": [1, 2.50, null]}"),
        Record(RecordKind.Put, "ключ/🙂", "\"\""),
        Record(RecordKind.Delete, "gone", ""),
        [.. Record(RecordKind.Put, "a", "1"), .. Record(RecordKind.Put, "b", "2"), .. Record(RecordKind.Delete, "a", "")],
        [.. Record(RecordKind.Put, "a", "1"), .. Record(RecordKind.Put, "c", "\"cut short by the crash\"")[..20]],
        Sealed(0x7FFFFFF0, [1, 1, (byte)'k']),         // a length of 2 GiB
        Sealed(0xFFFFFFFF, [1, 1, (byte)'k']),         // 4 GiB
        Sealed(1, [1]),                                // shorter than kind and key length
        Sealed(3, [1, 5, (byte)'k']),                  // key length past the payload
        Sealed(3, [2, 0, (byte)'v']),                  // a delete with a value
        Sealed(3, [9, 1, (byte)'k']),                  // an unknown kind
        Sealed(2, [1, 0]),                             // a put of the empty key, no value
        Record(RecordKind.VersionedPut, "k", "[1]", 7),
        Record(RecordKind.VersionFloor, "", "", LogRecord.MaxVersion),
        Record(RecordKind.VersionFloor, "", "", ulong.MaxValue),                               // past MaxVersion: corrupt
        [.. Record(RecordKind.VersionFloor, "", "", LogRecord.MaxVersion), .. Record(RecordKind.Put, "a", "1")], // the highest floor, then a put numbered after it
        [.. Record(RecordKind.Put, "a", "1"), .. Record(RecordKind.VersionFloor, "", "", 9), .. Record(RecordKind.VersionedPut, "a", "2", 12),
         .. Record(RecordKind.Delete, "a", ""), .. Record(RecordKind.VersionedPut, "b", "3", 10)],
        Sealed(10, [3, 0, 0, 0, 0, 0, 0, 0, 0, 0]),   // a versioned put of version 0
        Sealed(9, [3, 0, 1, 0, 0, 0, 0, 0, 0]),       // a versioned put shorter than its version
        Sealed(11, [4, 1, 1, 0, 0, 0, 0, 0, 0, 0, (byte)'k']), // a floor with a key
        Sealed(11, [4, 0, 1, 0, 0, 0, 0, 0, 0, 0, (byte)'1']), // a floor with a value
        Record(RecordKind.ExpiringPut, "k", "[1]", 7, FarFuture),
        Record(RecordKind.ExpiringPut, "k", "[1]", 7, LongPast),
        [.. Record(RecordKind.VersionedPut, "a", "1", 3), .. Record(RecordKind.ExpiringPut, "a", "2", 5, LongPast), .. Record(RecordKind.ExpiringPut, "b", "3", 6, FarFuture),
         .. Record(RecordKind.VersionedPut, "b", "4", 8), .. Record(RecordKind.ExpiringPut, "c", "5", 9, 1)],
        Sealed(18, [5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),   // a put with a deadline, of version 0
        Sealed(18, [5, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),   // deadline 0
        Sealed(18, [5, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), // deadline -1
        Sealed(14, [5, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]),               // shorter than its deadline
        new byte[64],
        [],
    ];

    private static readonly byte[][] Dictionary = [[0xF0, 0xFF, 0xFF, 0x7F], [0xFF, 0xFF, 0xFF, 0xFF], [1], [2], [3], [4], [5], [0], [0xFF], [0, 0, 0, 0, 0, 0, 0, 0],
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]];

    private static readonly FuzzTarget RecordTarget = new("LogRecord", Corpus, Generate, (input, context) => CheckRecords(input, context, LogRecord.TryRead))
    {
        Dictionary = Dictionary,
    };

    [Fact]
    public void Records_read_back_or_are_reported_incomplete_or_corrupt()
    {
        var result = Fuzzer.Run(RecordTarget);
        output.WriteLine(result.Summary);
        result.AssertClean(nameof(LogRecordFuzzTests));
    }

    [Fact]
    public void Replay_keeps_the_records_before_the_first_bad_one()
    {
        var result = Fuzzer.Run(ReplayTarget(Recovery.Replay));
        output.WriteLine(result.Summary);
        result.AssertClean(nameof(LogRecordFuzzTests));
    }

    [Fact]
    public void A_length_field_of_2_GiB_allocates_nothing_of_the_kind()
    {
        var record = Sealed(0x7FFFFFF0, [1, 1, (byte)'k', .. new byte[100]]);
        var path = Path.Combine(_dir, "log.00000001");
        File.WriteAllBytes(path, record);
        Recovery.Replay(path, new MemoryStore()); // once for the JIT
        var memory = new MemoryStore();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var (records, valid, length) = Recovery.Replay(path, memory);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"replay of {length} bytes claiming a 2 GiB record: {allocated} bytes allocated");
        Assert.Equal((0, 0, record.Length), (records, valid, length));
        Assert.True(allocated < 2 << 20, $"{allocated} bytes allocated");

        Assert.Equal(ReadStatus.Incomplete, LogRecord.TryRead(record, out _, out _, out _, out _, out _, out var needed));
        Assert.Equal(8 + 0x7FFFFFF0L, needed);
    }

    [Fact]
    public void The_oracle_catches_a_reader_that_skips_the_checksum()
    {
        var broken = RecordTarget with
        {
            Name = "LogRecord (no checksum)",
            Oracle = (input, context) => CheckRecords(input, context, (ReadOnlySpan<byte> data, out RecordKind kind, out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value, out ulong version, out long deadline, out long needed) =>
            {
                if (data.Length < 8)
                    return LogRecord.TryRead(data, out kind, out key, out value, out version, out deadline, out needed);
                var copy = data.ToArray();
                BinaryPrimitives.WriteUInt32LittleEndian(copy, Crc(copy.AsSpan(4, (int)Math.Min(copy.Length - 4, 4L + BinaryPrimitives.ReadUInt32LittleEndian(copy.AsSpan(4))))));
                var status = LogRecord.TryRead(copy, out kind, out _, out _, out version, out deadline, out needed);
                key = value = default;
                if (status == ReadStatus.Record)
                {
                    var keyAt = KeyAt(data[8]);
                    key = data.Slice(keyAt, data[9]);
                    value = data[(keyAt + data[9])..(int)needed];
                }
                return status;
            }),
        };
        var result = Fuzzer.Run(broken, new FuzzBudget(TimeSpan.FromSeconds(20), 100_000, Seed: 1));
        Assert.Equal(FuzzFailureKind.Exception, result.Failure?.Kind);
        Assert.Contains("independent reading", result.Failure!.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_harness_catches_a_replay_that_sizes_its_buffer_by_the_length_field()
    {
        var result = Fuzzer.Run(ReplayTarget(TrustingReplay) with { Name = "Recovery (trusts lengths)" },
            new FuzzBudget(TimeSpan.FromSeconds(20), 5_000, Seed: 1));
        Assert.Equal(FuzzFailureKind.Allocation, result.Failure?.Kind);
    }

    internal delegate ReadStatus RecordReader(ReadOnlySpan<byte> data, out RecordKind kind, out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value, out ulong version, out long deadline, out long needed);

    /// <summary>Where a record's key starts: after the kind, the key length, for kinds 3, 4 and 5 the 8-byte version, and for kind 5 the 8-byte deadline.</summary>
    private static int KeyAt(byte kind) => kind switch { 3 or 4 => 18, 5 => 26, _ => 10 };

    private static void CheckRecords(byte[] input, FuzzContext context, RecordReader read)
    {
        for (var at = 0; ;)
        {
            var data = input.AsSpan(at);
            ReadStatus status;
            RecordKind kind;
            ReadOnlySpan<byte> key, value;
            ulong version;
            long deadline, needed;
            using (context.Measure())
                status = read(data, out kind, out key, out value, out version, out deadline, out needed);
            var expected = Independent(data);
            Assert.True(expected.Status == status && expected.Needed == needed,
                $"the independent reading says {expected.Status} needing {expected.Needed}, TryRead {status} needing {needed}");
            if (status != ReadStatus.Record)
                return;
            Assert.True(needed <= data.Length);
            Assert.True(kind is RecordKind.Put or RecordKind.Delete or RecordKind.VersionedPut or RecordKind.VersionFloor or RecordKind.ExpiringPut);
            var keyAt = KeyAt((byte)kind);
            Assert.True(key.SequenceEqual(data.Slice(keyAt, data[9])) && value.SequenceEqual(data[(keyAt + data[9])..(int)needed]));
            Assert.True(kind is RecordKind.Put or RecordKind.VersionedPut or RecordKind.ExpiringPut || value.IsEmpty, "a delete or floor with a value");
            Assert.Equal(kind is RecordKind.VersionedPut or RecordKind.VersionFloor or RecordKind.ExpiringPut ? BinaryPrimitives.ReadUInt64LittleEndian(data[10..]) : 0, version);
            Assert.Equal(kind is RecordKind.ExpiringPut ? BinaryPrimitives.ReadInt64LittleEndian(data[18..]) : 0, deadline);
            // What reads back writes back the same.
            var again = new byte[LogRecord.Size(kind, key.Length, value.Length)];
            Assert.Equal(needed, LogRecord.Write(again, kind, key, value, version, deadline));
            Assert.True(again.AsSpan().SequenceEqual(data[..(int)needed]), "written again, the record differs");
            at += (int)needed;
        }
    }

    /// <summary>The record format read again, another way: status and the bytes it needs.</summary>
    private static (ReadStatus Status, long Needed) Independent(ReadOnlySpan<byte> data)
    {
        if (data.Length < 8)
            return (ReadStatus.Incomplete, 8);
        long payload = BinaryPrimitives.ReadUInt32LittleEndian(data[4..8]); // read as the format says: little-endian, unsigned
        if (payload < 2 || payload > int.MaxValue - 8)
            return (ReadStatus.Corrupt, 8);
        if (data.Length < 8 + payload)
            return (ReadStatus.Incomplete, 8 + payload);
        var checksum = (uint)(data[0] | data[1] << 8 | data[2] << 16 | data[3] << 24);
        var kind = data[8];
        var keyLength = data[9];
        var versioned = kind is 3 or 4 or 5 && payload >= 10;
        var version = versioned ? BitConverter.ToUInt64([.. data.Slice(10, 8)]) : 0; // the machine is little-endian, as the format
        var timed = kind == 5 && payload >= 18;
        var deadline = timed ? BitConverter.ToInt64([.. data.Slice(18, 8)]) : 0;
        var ok = checksum == Crc(data.Slice(4, 4 + (int)payload)) && kind switch
        {
            1 => keyLength <= payload - 2,
            2 => keyLength == payload - 2,                         // no value
            3 => versioned && keyLength <= payload - 10 && version is not 0 and <= LogRecord.MaxVersion,
            4 => versioned && keyLength == 0 && payload == 10 && version is not 0 and <= LogRecord.MaxVersion, // no key, no value
            5 => timed && keyLength <= payload - 18 && version is not 0 and <= LogRecord.MaxVersion && deadline >= 1,
            _ => false,
        };
        return (ok ? ReadStatus.Record : ReadStatus.Corrupt, 8 + payload);
    }

    /// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit: not the table of the code under test.</summary>
    private static uint Crc(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var i = 0; i < 8; i++)
                crc = (crc & 1) != 0 ? crc >> 1 ^ 0x82F63B78u : crc >> 1;
        }
        return ~crc;
    }

    internal delegate (long Records, long ValidBytes, long FileBytes) Replayer(string path, MemoryStore memory);

    private FuzzTarget ReplayTarget(Replayer replay) => new("Recovery", Corpus, random => Generate(random, large: random.Chance(2)), (input, context) =>
    {
        var path = Path.Combine(_dir, "log.00000001");
        File.WriteAllBytes(path, input);
        var memory = new MemoryStore();
        var now = memory.NowUnixMs;
        (long Records, long ValidBytes, long FileBytes) outcome;
        using (context.Measure())
            outcome = replay(path, memory);

        // The model: TryRead (checked above against an independent reading) over the bytes in
        // memory. A versioned put keeps its version, a put from before versions gets the next
        // one, a put with a deadline keeps it, or leaves the key absent once it has passed,
        // and the counter ends at the highest seen (a floor's and an expired put's included).
        var model = new Dictionary<string, string>();
        long records = 0, at = 0;
        ulong last = 0;
        while (LogRecord.TryRead(input.AsSpan((int)at), out var kind, out var key, out var value, out var version, out var deadline, out var needed) == ReadStatus.Record)
        {
            if (kind == RecordKind.Put)
                version = ++last;
            last = Math.Max(last, version);
            if (kind is RecordKind.Put or RecordKind.VersionedPut || kind == RecordKind.ExpiringPut && deadline > now)
                model[Convert.ToHexString(key)] = $"{Convert.ToHexString(value)}@{version}/{deadline}";
            else if (kind is RecordKind.Delete or RecordKind.ExpiringPut)
                model.Remove(Convert.ToHexString(key));
            if (kind != RecordKind.VersionFloor)
                records++;
            at += needed;
        }
        Assert.Equal((records, at, (long)input.Length), outcome);
        Assert.Equal(model, memory.Entries().ToDictionary(e => Convert.ToHexString(Entry.Key(e)), e => $"{Convert.ToHexString(Entry.Value(e))}@{Entry.Version(e)}/{Entry.Deadline(e)}"));
        Assert.Equal(last, memory.LastVersion);
    })
    {
        Dictionary = Dictionary,
        QuickExecutions = 3_000,
        MaxInputBytes = 3 << 20,
        AllocationBound = length => 64L * length + (2 << 20), // the 1 MiB read buffer, and the store's copies
    };

    /// <summary>Recovery.Replay with one change: the buffer grows to what a record's length field says before the file is asked whether it holds that much.</summary>
    private static (long Records, long ValidBytes, long FileBytes) TrustingReplay(string path, MemoryStore memory)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        var length = file.Length;
        var now = memory.NowUnixMs;
        var buffer = new byte[1 << 20];
        long bufferOffset = 0, records = 0;
        int start = 0, end = 0;
        while (true)
        {
            var status = LogRecord.TryRead(buffer.AsSpan(start, end - start), out var kind, out var key, out var value, out var version, out var deadline, out var needed);
            if (status == ReadStatus.Record)
            {
                if (kind == RecordKind.VersionedPut)
                    memory.Put(key, value, version);
                else if (kind == RecordKind.ExpiringPut && deadline > now)
                    memory.Put(key, value, version, deadline);
                else if (kind == RecordKind.ExpiringPut)
                {
                    memory.TryRemove(key);
                    memory.ReserveVersionsThrough(version);
                }
                else if (kind == RecordKind.Put)
                    memory.Put(key, value);
                else if (kind == RecordKind.Delete)
                    memory.TryRemove(key);
                else
                    memory.ReserveVersionsThrough(version);
                start += (int)needed;
                records += kind == RecordKind.VersionFloor ? 0 : 1;
                continue;
            }
            if (status == ReadStatus.Incomplete && needed > buffer.Length)
                Array.Resize(ref buffer, (int)Math.Min(needed, 64 << 20)); // capped, to keep the control light
            if (status == ReadStatus.Corrupt || needed > length - (bufferOffset + start))
                return (records, bufferOffset + start, length);
            buffer.AsSpan(start, end - start).CopyTo(buffer);
            bufferOffset += start;
            end -= start;
            start = 0;
            while (end < buffer.Length && file.Read(buffer, end, buffer.Length - end) is var read and > 0)
                end += read;
        }
    }

    private static byte[] Generate(Random random) => Generate(random, large: false);

    /// <summary>A log of real records, then damage of one kind or another, sometimes re-sealed with a good checksum.</summary>
    private static byte[] Generate(Random random, bool large)
    {
        var log = new List<byte>();
        for (var records = random.Next(6); records >= 0; records--)
        {
            var key = random.Pick(["a", "b", "k", "ключ", "🙂", "", new string('k', 255), random.Digits(random.Next(10))]);
            var value = random.Chance(30) ? "" : random.Pick(["1", "\"v\"", "[1,2,3]", "{\"a\": null}", random.Digits(random.Size(16, 2000))]);
            var version = random.Pick<ulong>([1, 2, 3, 255, 256, (ulong)random.Next(1, 1000), LogRecord.MaxVersion, LogRecord.MaxVersion + 1, 1UL << 63, ulong.MaxValue]);
            // Before versions, now, and with a deadline (passed or to come).
            var put = random.Pick([RecordKind.Put, RecordKind.VersionedPut, RecordKind.ExpiringPut]);
            var deadline = random.Pick([1, LongPast, FarFuture, long.MaxValue]);
            var record = random.Chance(5) ? Record(RecordKind.VersionFloor, "", "", version)
                : Record(random.Chance(75) && value.Length > 0 ? put : RecordKind.Delete, key, random.Chance(75) ? value : "", version, deadline);
            if (large && records == 0)
                record = Record(put, key, "\"" + new string('x', (1 << 20) + random.Next(1 << 20)) + "\"", version, deadline);
            log.AddRange(record);
        }
        var bytes = log.ToArray();
        var at = random.Next(bytes.Length);
        switch (random.Next(6))
        {
            case 0:
                return bytes; // whole
            case 1:
                return bytes[..random.Next(bytes.Length + 1)]; // torn
            case 2:
                bytes[at] ^= (byte)(1 << random.Next(8)); // flipped, checksum left alone
                return bytes;
            default:
            {
                // A record's length, kind or key length rewritten and then re-sealed: only the meaning is wrong.
                var starts = new List<int>();
                for (var i = 0; i + 8 <= bytes.Length; i += 8 + (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(i + 4)))
                    starts.Add(i);
                var s = random.Pick(starts);
                switch (random.Next(3))
                {
                    case 0:
                        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(s + 4), random.Pick<uint>([0, 1, 2, 3, 0x7FFFFFF0, 0x7FFFFFF8, 0x80000000, 0xFFFFFFFF, (uint)random.Next(64)]));
                        break;
                    case 1:
                        bytes[s + 8] = random.Pick<byte>([0, 1, 2, 3, 4, 5, 0xFF]);
                        break;
                    default:
                        bytes[s + 9] = (byte)random.Next(256);
                        break;
                }
                var payload = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(s + 4));
                if (payload <= bytes.Length - s - 8)
                    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(s), Crc(bytes.AsSpan(s + 4, 4 + (int)payload)));
                return bytes;
            }
        }
    }
}
