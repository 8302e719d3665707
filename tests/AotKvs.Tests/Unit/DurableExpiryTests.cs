using System.Text;
using AotKvs.Configuration;
using AotKvs.Storage;
using AotKvs.Storage.Log;
using AotKvs.Storage.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// Deadlines with a data dir, in process and against a clock the test moves: a PUT with a
/// lifetime is acknowledged once its record (kind 5, with the deadline) is on disk; a PUT
/// without one takes the deadline away; recovery leaves keys past their deadlines absent and
/// keeps the others with theirs; snapshots keep deadlines and the version floor; and no
/// version is given twice, an expired key's included. Expiry itself writes nothing.
/// </summary>
[Trait("Category", "Unit")]
public sealed class DurableExpiryTests : IDisposable
{
    private const long Start = 1_800_000_000_000; // Unix ms, 2027
    private readonly string _path = Path.Combine(Path.GetTempPath(), "kvs-expiry-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.FromUnixTimeMilliseconds(Start));

    public void Dispose()
    {
        if (Directory.Exists(_path))
            Directory.Delete(_path, recursive: true);
    }

    private static ReadOnlyMemory<byte> B(string text) => Encoding.UTF8.GetBytes(text);

    private static string S(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);

    /// <summary>The store as DurabilitySetup builds it, with memory on the test's clock.</summary>
    private sealed class Opened(DurableStore store, MemoryStore memory) : IDisposable
    {
        public DurableStore Store { get; } = store;
        public MemoryStore Memory { get; } = memory;

        public void Dispose()
        {
            Store.Dispose();
            Memory.Dispose();
        }
    }

    private Opened Open(long compactMinBytes = 1 << 30)
    {
        var settings = new DurabilitySettings(_path, SyncMode.Always, TimeSpan.FromSeconds(1), CompactMinBytes: compactMinBytes);
        var dir = DataDirectory.Open(settings.DataDir);
        var memory = new MemoryStore(dir.VersionScope, _clock);
        var recovered = Recovery.Run(dir, memory);
        return new Opened(new DurableStore(memory, new WriteAheadLog(dir, settings, memory, recovered, NullLogger.Instance), dir), memory);
    }

    private static byte[] Record(RecordKind kind, string key, string value, ulong version, long deadline = 0)
    {
        var k = Encoding.UTF8.GetBytes(key);
        var v = Encoding.UTF8.GetBytes(value);
        var record = new byte[LogRecord.Size(kind, k.Length, v.Length)];
        LogRecord.Write(record, kind, k, v, version, deadline);
        return record;
    }

    /// <summary>Every whole record of a file, read while its writer may still hold it open.</summary>
    private static List<(RecordKind Kind, string Key, string Value, ulong Version, long Deadline)> Records(string path)
    {
        byte[] data;
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            data = new byte[file.Length];
            file.ReadExactly(data);
        }
        var records = new List<(RecordKind, string, string, ulong, long)>();
        for (var at = 0; LogRecord.TryRead(data.AsSpan(at), out var kind, out var key, out var value, out var version, out var deadline, out var needed) == ReadStatus.Record; at += (int)needed)
            records.Add((kind, S(key), S(value), version, deadline));
        return records;
    }

    private string NewestLog => Directory.GetFiles(_path, "log.*").Order(StringComparer.Ordinal).Last();

    private static Dictionary<string, string> Contents(MemoryStore memory) =>
        memory.Entries().ToDictionary(e => S(Entry.Key(e)), e => $"{S(Entry.Value(e))}@{Entry.Version(e)}/{Entry.Deadline(e)}");

    [Fact]
    public async Task A_put_with_a_lifetime_is_on_disk_with_its_deadline_when_acknowledged_and_a_put_without_one_takes_it_away()
    {
        using (var opened = Open())
        {
            var timed = await opened.Store.PutAsync(B("k"), B("1"), Precondition.None, new Lifetime(10), default);
            Assert.Equal(new WriteResult(WriteOutcome.Created, 1), timed);
            // Acknowledged with --sync always: the record is on disk, deadline and all, while the process still runs.
            Assert.Equal([(RecordKind.ExpiringPut, "k", "1", 1UL, Start + 10_000)], Records(NewestLog));

            // What a kill at this point leaves: recovery from a copy of the files has the value and its deadline.
            var copy = _path + "-copy";
            Directory.CreateDirectory(copy);
            try
            {
                File.Copy(NewestLog, Path.Combine(copy, Path.GetFileName(NewestLog)));
                using var dir = DataDirectory.Open(copy);
                using var memory = new MemoryStore(dir.VersionScope, _clock);
                Recovery.Run(dir, memory);
                Assert.Equal(new Dictionary<string, string> { ["k"] = $"1@1/{Start + 10_000}" }, Contents(memory));
            }
            finally
            {
                Directory.Delete(copy, recursive: true);
            }

            var forever = await opened.Store.PutAsync(B("k"), B("2"), Precondition.None, default);
            Assert.Equal(new WriteResult(WriteOutcome.Replaced, 2), forever);
            Assert.Equal((RecordKind.VersionedPut, "k", "2", 2UL, 0L), Records(NewestLog)[^1]);
        }
        _clock.Advance(TimeSpan.FromSeconds(60)); // long past the first deadline
        using (var opened = Open())
        {
            var read = await opened.Store.GetAsync(B("k"), default);
            Assert.True(read.Found);
            Assert.Equal(("2", 2UL), (S(read.Json.Span), read.Version));
            Assert.Equal(new Dictionary<string, string> { ["k"] = "2@2/0" }, Contents(opened.Memory));
        }
    }

    [Fact]
    public void Recovery_leaves_keys_past_their_deadlines_absent_and_keeps_the_others_with_theirs()
    {
        Directory.CreateDirectory(_path);
        var future = Start + 60_000;
        var past = Start - 1;
        byte[] log =
        [
            .. Record(RecordKind.VersionedPut, "was", "1", 1),
            .. Record(RecordKind.ExpiringPut, "was", "2", 2, past),      // replaced by a value that has expired
            .. Record(RecordKind.ExpiringPut, "live", "3", 3, future),
            .. Record(RecordKind.ExpiringPut, "renewed", "4", 4, past),
            .. Record(RecordKind.VersionedPut, "renewed", "5", 5),       // no deadline any more
            .. Record(RecordKind.ExpiringPut, "soon", "6", 6, Start + 1),
            .. Record(RecordKind.ExpiringPut, "gone", "7", 9, Start),    // the newest version, on a key past its deadline
        ];
        File.WriteAllBytes(Path.Combine(_path, "log.00000001"), log);

        // Nothing is swept: a value past its deadline in memory would show in its entries.
        var clock = new UnsweptClock(Start);
        using var dir = DataDirectory.Open(_path);
        using var memory = new MemoryStore(dir.VersionScope, clock);
        var result = Recovery.Run(dir, memory);
        Assert.Equal(7, result.Records);
        Assert.Null(result.Damage);
        Assert.Equal(new Dictionary<string, string>
        {
            ["live"] = $"3@3/{future}",
            ["renewed"] = "5@5/0",
            ["soon"] = $"6@6/{Start + 1}",
        }, Contents(memory));
        Assert.Equal(9UL, memory.LastVersion); // the expired key's version still counts
        Assert.False(memory.TryGet("was"u8, out _));

        clock.NowUnixMs = Start + 1; // "soon" reaches its deadline in memory, like any other
        Assert.False(memory.TryGet("soon"u8, out _));
        Assert.True(memory.TryGet("live"u8, out _));
    }

    [Fact]
    public async Task A_value_outlives_a_restart_until_its_deadline_and_its_expiry_writes_nothing()
    {
        WriteResult written;
        using (var opened = Open())
            written = await opened.Store.PutAsync(B("k"), B("\"v\""), Precondition.None, new Lifetime(10), default);

        _clock.Advance(TimeSpan.FromSeconds(5));
        using (var opened = Open())
        {
            var read = await opened.Store.GetAsync(B("k"), default);
            Assert.True(read.Found);
            Assert.Equal(written.Version, read.Version);
            Assert.True(opened.Memory.TryGet("k"u8, out var entry));
            Assert.Equal(Start + 10_000, Entry.Deadline(entry));

            var logBytes = new FileInfo(NewestLog).Length;
            _clock.Advance(TimeSpan.FromSeconds(5)); // the deadline: absent to every call, and swept
            Assert.False((await opened.Store.GetAsync(B("k"), default)).Found);
            Assert.Equal(WriteOutcome.NotFound, (await opened.Store.DeleteAsync(B("k"), Precondition.None, default)).Outcome);
            Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, 0),
                await opened.Store.PutAsync(B("k"), B("1"), new Precondition(VersionSet.AnyVersion, default), default)); // If-Match: * sees it absent
            Assert.Equal(0, opened.Memory.Count);
            Assert.Equal(logBytes, new FileInfo(NewestLog).Length); // expiry is not logged
        }
        using (var opened = Open())
        {
            Assert.False((await opened.Store.GetAsync(B("k"), default)).Found);
            Assert.Equal(0, opened.Memory.Count);
        }
    }

    [Fact]
    public async Task A_version_is_never_given_twice_when_an_expired_key_is_created_again_after_a_restart()
    {
        WriteResult expiring;
        using (var opened = Open())
        {
            await opened.Store.PutAsync(B("other"), B("1"), Precondition.None, default);
            expiring = await opened.Store.PutAsync(B("k"), B("2"), Precondition.None, new Lifetime(1), default);
            Assert.Equal(2UL, expiring.Version); // the newest version is the one that expires
        }
        _clock.Advance(TimeSpan.FromSeconds(2));
        WriteResult again;
        using (var opened = Open())
        {
            Assert.False((await opened.Store.GetAsync(B("k"), default)).Found);
            again = await opened.Store.PutAsync(B("k"), B("3"), new Precondition(default, VersionSet.AnyVersion), default); // If-None-Match: *
            Assert.Equal(WriteOutcome.Created, again.Outcome);
            Assert.True(again.Version > expiring.Version, $"version {again.Version} after {expiring.Version}");
        }
        using (var opened = Open())
            Assert.Equal(again.Version, (await opened.Store.GetAsync(B("k"), default)).Version);
    }

    /// <summary>
    /// A snapshot written after a value's deadline but before any sweep (this clock's timers
    /// never fire): the value is left out, its version stays under the floor, and the live
    /// value's deadline is written with it.
    /// </summary>
    [Fact]
    public void A_snapshot_keeps_deadlines_and_the_floor_and_leaves_out_values_already_past_theirs()
    {
        var clock = new UnsweptClock(Start);
        using (var dir = DataDirectory.Open(_path))
        using (var memory = new MemoryStore(dir.VersionScope, clock))
        {
            memory.Put("forever"u8, "1"u8, 1);
            memory.Put("live"u8, "2"u8, 2, Start + 10_000);
            memory.Put("past"u8, "3"u8, 3, Start + 1_000);
            clock.NowUnixMs = Start + 5_000;
            Assert.Equal(3, memory.Count); // still in memory: not swept
            new Snapshotter(dir, memory, 0).Write(2);
            var records = Records(dir.SnapshotFile(2));
            Assert.Equal((RecordKind.VersionFloor, "", "", 3UL, 0L), records[0]);
            Assert.Equal(
                [(RecordKind.VersionedPut, "forever", "1", 1UL, 0L), (RecordKind.ExpiringPut, "live", "2", 2UL, Start + 10_000)],
                records.Skip(1).OrderBy(r => r.Key, StringComparer.Ordinal));
        }
        using (var dir = DataDirectory.Open(_path))
        using (var memory = new MemoryStore(dir.VersionScope, clock))
        {
            Recovery.Run(dir, memory);
            Assert.Equal(new Dictionary<string, string> { ["forever"] = "1@1/0", ["live"] = $"2@2/{Start + 10_000}" }, Contents(memory));
            Assert.Equal(3UL, memory.LastVersion);
        }
    }

    [Fact]
    public async Task Compaction_keeps_a_deadline_once_the_log_that_had_it_is_gone()
    {
        using (var opened = Open(compactMinBytes: 4096))
        {
            await opened.Store.PutAsync(B("timed"), B("\"t\""), Precondition.None, new Lifetime(100), default);
            await opened.Store.PutAsync(B("brief"), B("\"b\""), Precondition.None, new Lifetime(1), default);
            _clock.Advance(TimeSpan.FromSeconds(2)); // "brief" is past its deadline before any snapshot
            for (var i = 0; i < 2000; i++)
                await opened.Store.PutAsync(B($"k{i % 20}"), B($"{i}"), Precondition.None, default).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }
        Assert.True(Directory.GetFiles(_path, "snapshot.*").Length > 0, "compaction never ran");
        Assert.False(File.Exists(Path.Combine(_path, "log.00000001")), "the first log, which held the deadlines, is still there");

        using (var opened = Open())
        {
            Assert.True(opened.Memory.TryGet("timed"u8, out var entry));
            Assert.Equal(Start + 100_000, Entry.Deadline(entry));
            Assert.False(opened.Memory.TryGet("brief"u8, out _));
            Assert.Equal(21, opened.Memory.Count);
            _clock.Advance(TimeSpan.FromSeconds(98));
            Assert.False((await opened.Store.GetAsync(B("timed"), default)).Found);
        }
    }

    /// <summary>
    /// The longest lifetime, on the real clock: its deadline (ten years away) is logged, read
    /// back at recovery, and handed to memory's sweeper, whose timer cannot wait that long in
    /// one go (the fuzzed replay found a deadline in 2100 thrown out of it).
    /// </summary>
    [Fact]
    public async Task The_longest_lifetime_is_logged_and_recovered_on_the_real_clock()
    {
        var settings = new DurabilitySettings(_path, SyncMode.Always, TimeSpan.FromSeconds(1), CompactMinBytes: 1 << 30);
        long before = 0, after = 0; // the clock around the PUT: its deadline is ten years from a moment between them
        for (var round = 0; round < 2; round++)
        {
            var dir = DataDirectory.Open(settings.DataDir);
            using var memory = new MemoryStore(dir.VersionScope);
            var recovered = Recovery.Run(dir, memory);
            using var store = new DurableStore(memory, new WriteAheadLog(dir, settings, memory, recovered, NullLogger.Instance), dir);
            if (round == 0)
            {
                before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                Assert.Equal(WriteOutcome.Created, (await store.PutAsync(B("decade"), B("1"), Precondition.None, new Lifetime(Lifetime.MaxSeconds), default)).Outcome);
                after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            }
            Assert.True(memory.TryGet("decade"u8, out var entry));
            Assert.InRange(Entry.Deadline(entry), before + Lifetime.MaxSeconds * 1000L, after + Lifetime.MaxSeconds * 1000L);
        }
    }

    /// <summary>A clock that stands where the test puts it and whose timers never fire: nothing is swept.</summary>
    private sealed class UnsweptClock(long nowUnixMs) : TimeProvider
    {
        public long NowUnixMs { get; set; } = nowUnixMs;

        public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(NowUnixMs);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new Never();

        private sealed class Never : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
