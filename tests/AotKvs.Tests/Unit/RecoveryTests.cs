using System.Text;
using AotKvs.Configuration;
using AotKvs.Storage.Log;
using AotKvs.Storage.Memory;
using AotKvs.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// Start-up from a data dir, in process: torn and corrupt logs, and the file states a crash
/// can leave at each step of compaction. Each ends in the state the acknowledged changes made.
/// </summary>
[Trait("Category", "Unit")]
public sealed class RecoveryTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "kvs-recovery-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_path))
            Directory.Delete(_path, recursive: true);
    }

    private static byte[] Log(params (string Key, string? Value)[] changes)
    {
        var log = new MemoryStream();
        foreach (var (key, value) in changes)
        {
            var k = Encoding.UTF8.GetBytes(key);
            var v = value is null ? [] : Encoding.UTF8.GetBytes(value);
            var kind = value is null ? RecordKind.Delete : RecordKind.Put; // the format from before versions: still read
            var record = new byte[LogRecord.Size(kind, k.Length, v.Length)];
            LogRecord.Write(record, kind, k, v);
            log.Write(record);
        }
        return log.ToArray();
    }

    private static Dictionary<string, string> Contents(MemoryStore memory) =>
        memory.Entries().ToDictionary(e => Encoding.UTF8.GetString(Entry.Key(e)), e => Encoding.UTF8.GetString(Entry.Value(e)));

    private (RecoveryResult Result, Dictionary<string, string> Data) Recover()
    {
        using var dir = DataDirectory.Open(_path);
        var memory = new MemoryStore();
        var result = Recovery.Run(dir, memory);
        return (result, Contents(memory));
    }

    private string FileIn(string name) => Path.Combine(_path, name);

    [Fact]
    public void Puts_and_deletes_replay_in_order()
    {
        Directory.CreateDirectory(_path);
        File.WriteAllBytes(FileIn("log.00000001"), Log(("a", "1"), ("b", "2"), ("a", "3"), ("b", null), ("c", "[4]")));
        var (result, data) = Recover();
        Assert.Equal(new Dictionary<string, string> { ["a"] = "3", ["c"] = "[4]" }, data);
        Assert.Equal(5, result.Records);
        Assert.Equal(0, result.DroppedBytes);
        Assert.Null(result.Damage);
    }

    [Fact]
    public void A_torn_tail_is_cut_and_everything_before_it_kept()
    {
        Directory.CreateDirectory(_path);
        var whole = Log(("a", "1"), ("b", "2"));
        var torn = Log(("c", "\"a value cut short by the crash\""))[..20];
        File.WriteAllBytes(FileIn("log.00000001"), [.. whole, .. torn]);
        var (result, data) = Recover();
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, data);
        Assert.Equal(torn.Length, result.DroppedBytes);
        Assert.Equal(whole.Length, new FileInfo(FileIn("log.00000001")).Length);
    }

    [Fact]
    public void A_corrupt_record_in_the_middle_keeps_the_records_before_it_and_drops_later_logs()
    {
        Directory.CreateDirectory(_path);
        var before = Log(("a", "1"), ("b", "2"));
        var bad = Log(("c", "3"));
        bad[^1] ^= 0x40;
        var after = Log(("d", "4"));
        File.WriteAllBytes(FileIn("log.00000001"), [.. before, .. bad, .. after]);
        File.WriteAllBytes(FileIn("log.00000002"), Log(("e", "5")));
        var (result, data) = Recover();
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, data);
        Assert.Equal(bad.Length + after.Length + Log(("e", "5")).Length, result.DroppedBytes);
        Assert.False(File.Exists(FileIn("log.00000002")));
        Assert.Contains("log.00000001", result.Damage);
    }

    /// <summary>
    /// Compaction's steps, each a state a crash can leave: the writer has switched to log.2
    /// (the new changes are there); snapshot.2 is being written, renamed, and the old files
    /// removed. The snapshot is fuzzy: it was read while log.2 grew, so it holds "b" = "20"
    /// from log.2 too.
    /// </summary>
    [Theory]
    [InlineData("switched")]
    [InlineData("snapshot half written")]
    [InlineData("snapshot renamed")]
    [InlineData("old log removed")]
    [InlineData("done")]
    public void A_crash_at_any_step_of_compaction_keeps_every_change(string step)
    {
        Directory.CreateDirectory(_path);
        var log1 = Log(("a", "1"), ("b", "2"), ("gone", "x"), ("gone", null));
        var log2 = Log(("b", "20"), ("c", "30"), ("a", null));
        var snapshot2 = Log(("a", "1"), ("b", "20"));
        File.WriteAllBytes(FileIn("log.00000002"), log2);
        if (step != "old log removed" && step != "done")
            File.WriteAllBytes(FileIn("log.00000001"), log1);
        if (step == "snapshot half written")
            File.WriteAllBytes(FileIn("snapshot.tmp"), snapshot2[..(snapshot2.Length / 2)]);
        if (step is "snapshot renamed" or "old log removed" or "done")
            File.WriteAllBytes(FileIn("snapshot.00000002"), snapshot2);

        var (result, data) = Recover();
        Assert.Equal(new Dictionary<string, string> { ["b"] = "20", ["c"] = "30" }, data);
        Assert.Equal(0, result.DroppedBytes);
        Assert.Equal(2, result.Generation);
        Assert.False(File.Exists(FileIn("snapshot.tmp")));
    }

    [Fact]
    public async Task The_store_keeps_its_changes_across_a_reopen_and_compacts_to_a_snapshot()
    {
        var settings = new DurabilitySettings(_path, SyncMode.Always, TimeSpan.FromSeconds(1), CompactMinBytes: 4096);
        using (var store = Open(settings))
        {
            for (var i = 0; i < 2000; i++)
                await store.PutAsync(Key($"k{i % 100}"), Key($"{i}"), Precondition.None, default).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(WriteOutcome.Deleted, (await store.DeleteAsync(Key("k7"), Precondition.None, default)).Outcome);
            Assert.Equal(WriteOutcome.NotFound, (await store.DeleteAsync(Key("k7"), Precondition.None, default)).Outcome);
        }
        Assert.True(Directory.GetFiles(_path, "snapshot.*").Length > 0, "compaction never ran");

        var (_, data) = Recover();
        Assert.Equal(99, data.Count);
        Assert.Equal("1999", data["k99"]);
        Assert.Equal("1900", data["k0"]);
        Assert.False(data.ContainsKey("k7"));
        var disk = Directory.GetFiles(_path).Sum(f => new FileInfo(f).Length);
        Assert.True(disk < 4096 * 3, $"{disk} bytes on disk for 99 small keys");
    }

    /// <summary>
    /// A close that comes while the writer is busy with one batch and the next is already
    /// waiting: the writer must write that one too and end, not wait for work that cannot come.
    /// </summary>
    [Fact]
    public async Task Closing_writes_what_is_pending_at_once_and_acknowledges_it()
    {
        for (var round = 0; round < 20; round++)
        {
            var path = Path.Combine(_path, $"round{round}");
            var store = Open(new DurabilitySettings(path, SyncMode.Always, TimeSpan.FromSeconds(1), CompactMinBytes: 1 << 30));
            var first = store.PutAsync(Key("first"), Key("0"), Precondition.None, default).AsTask(); // keeps the writer busy with its fsync
            Thread.SpinWait(round * 200);
            // Appended before the close (PutAsync appends at once), answered by the writer later.
            var puts = Enumerable.Range(0, 500).Select(i => store.PutAsync(Key($"k{i}"), Key($"{i}"), Precondition.None, default).AsTask()).Append(first).ToArray();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            store.Dispose();
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"round {round}: closing took {clock.Elapsed}");
            await Task.WhenAll(puts).WaitAsync(TimeSpan.FromSeconds(10));

            using var dir = DataDirectory.Open(path);
            var memory = new MemoryStore();
            Recovery.Run(dir, memory);
            Assert.Equal(501, memory.Count);
        }
    }

    [Fact]
    public void A_second_opener_of_the_data_dir_is_refused()
    {
        using var first = DataDirectory.Open(_path);
        var refused = Assert.Throws<DataDirException>(() => DataDirectory.Open(_path));
        Assert.Contains("locked", refused.Message);
    }

    private static ReadOnlyMemory<byte> Key(string text) => Encoding.UTF8.GetBytes(text);

    private static DurableStore Open(DurabilitySettings settings)
    {
        var dir = DataDirectory.Open(settings.DataDir);
        var memory = new MemoryStore();
        var recovered = Recovery.Run(dir, memory);
        return new DurableStore(memory, new WriteAheadLog(dir, settings, memory, recovered, NullLogger.Instance), dir);
    }
}
