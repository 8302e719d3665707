using System.Text;
using AotKvs.Configuration;
using AotKvs.Storage;
using AotKvs.Storage.Log;
using AotKvs.Storage.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The data dir's versions, in process: they and the scope outlive a reopen and a compaction,
/// no version is given twice (a deleted key's included), records from before versions still
/// load, and a conditional write checks and changes in one step.
/// </summary>
[Trait("Category", "Unit")]
public sealed class DurableVersionTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "kvs-versions-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_path))
            Directory.Delete(_path, recursive: true);
    }

    private static ReadOnlyMemory<byte> B(string text) => Encoding.UTF8.GetBytes(text);

    private DurableStore Open(long compactMinBytes = 1 << 30)
    {
        var settings = new DurabilitySettings(_path, SyncMode.Always, TimeSpan.FromSeconds(1), CompactMinBytes: compactMinBytes);
        var dir = DataDirectory.Open(settings.DataDir);
        var memory = new MemoryStore(dir.VersionScope);
        var recovered = Recovery.Run(dir, memory);
        return new DurableStore(memory, new WriteAheadLog(dir, settings, memory, recovered, NullLogger.Instance), dir);
    }

    private static Precondition IfMatch(params ulong[] versions) => new(VersionSet.Of(versions), default);

    private static readonly Precondition CreateOnly = new(default, VersionSet.AnyVersion);

    [Fact]
    public async Task Versions_and_the_scope_survive_a_reopen_and_later_versions_are_above_every_one_given()
    {
        string scope;
        WriteResult a, gone;
        using (var store = Open())
        {
            scope = store.VersionScope;
            Assert.Matches("^[0-9a-f]{16}$", scope);
            a = await store.PutAsync(B("a"), B("1"), Precondition.None, default);
            Assert.Equal(new WriteResult(WriteOutcome.Created, 1), a);
            await store.PutAsync(B("b"), B("2"), Precondition.None, default);
            gone = await store.PutAsync(B("gone"), B("3"), Precondition.None, default);
            Assert.Equal(WriteOutcome.Deleted, (await store.DeleteAsync(B("gone"), Precondition.None, default)).Outcome);
        }
        Assert.Equal(scope, File.ReadAllText(Path.Combine(_path, "scope")));
        using (var store = Open())
        {
            Assert.Equal(scope, store.VersionScope);
            Assert.Equal(a.Version, (await store.GetAsync(B("a"), default)).Version);
            var next = await store.PutAsync(B("gone"), B("4"), Precondition.None, default);
            Assert.True(next.Version > gone.Version, $"{next.Version} after {gone.Version}");
            Assert.Equal(WriteOutcome.Replaced, (await store.PutAsync(B("a"), B("5"), IfMatch(a.Version), default)).Outcome);
        }
    }

    [Fact]
    public async Task Versions_survive_compaction()
    {
        var versions = new Dictionary<string, ulong>();
        using (var store = Open(compactMinBytes: 4096))
        {
            for (var i = 0; i < 2000; i++)
                versions[$"k{i % 20}"] = (await store.PutAsync(B($"k{i % 20}"), B($"{i}"), Precondition.None, default)).Version;
        }
        Assert.True(Directory.GetFiles(_path, "snapshot.*").Length > 0, "compaction never ran");
        using (var store = Open())
            foreach (var (key, version) in versions)
                Assert.Equal(version, (await store.GetAsync(B(key), default)).Version);
    }

    /// <summary>
    /// The newest version went to a key deleted before the snapshot: no entry holds it, the
    /// log that did is gone, and only the snapshot's floor keeps it from being given again.
    /// </summary>
    [Fact]
    public void A_snapshot_keeps_the_version_of_a_key_deleted_before_it()
    {
        using (var dir = DataDirectory.Open(_path))
        {
            var memory = new MemoryStore(dir.VersionScope);
            memory.Put("a"u8, "1"u8);
            memory.Put("gone"u8, "2"u8);
            Assert.True(memory.TryRemove("gone"u8));
            new Snapshotter(dir, memory, 0).Write(2);
            var snapshot = File.ReadAllBytes(dir.SnapshotFile(2));
            Assert.Equal(ReadStatus.Record, LogRecord.TryRead(snapshot, out var kind, out _, out _, out var floor, out _, out _));
            Assert.Equal((RecordKind.VersionFloor, 2UL), (kind, floor));
        }
        using (var dir = DataDirectory.Open(_path))
        {
            var memory = new MemoryStore(dir.VersionScope);
            var recovered = Recovery.Run(dir, memory);
            Assert.Equal(1, recovered.Records); // the floor is not a change
            Assert.Equal(2UL, memory.LastVersion);
            Assert.True(memory.TryGet("a"u8, out var entry));
            Assert.Equal(1UL, Entry.Version(entry));
        }
    }

    [Fact]
    public async Task A_log_from_before_versions_loads_and_its_values_get_the_same_versions_at_every_start()
    {
        Directory.CreateDirectory(_path);
        var old = new MemoryStream();
        foreach (var (kind, key, value) in new[] { (RecordKind.Put, "a", "1"), (RecordKind.Put, "b", "2"), (RecordKind.Delete, "b", ""), (RecordKind.Put, "a", "3") })
        {
            var record = new byte[LogRecord.Size(kind, key.Length, value.Length)];
            LogRecord.Write(record, kind, Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value));
            old.Write(record);
        }
        File.WriteAllBytes(Path.Combine(_path, "log.00000001"), old.ToArray());

        ulong first, written;
        using (var store = Open())
        {
            var a = await store.GetAsync(B("a"), default);
            Assert.Equal("3", Encoding.UTF8.GetString(a.Json.Span));
            first = a.Version;
            Assert.NotEqual(0UL, first);
            written = (await store.PutAsync(B("c"), B("4"), Precondition.None, default)).Version;
            Assert.True(written > first);
        }
        using (var store = Open())
        {
            Assert.Equal(first, (await store.GetAsync(B("a"), default)).Version);
            Assert.Equal(written, (await store.GetAsync(B("c"), default)).Version);
        }
    }

    [Fact]
    public async Task Conditional_writes_check_the_current_version_and_a_failed_one_changes_nothing()
    {
        using var store = Open();
        var created = await store.PutAsync(B("k"), B("1"), CreateOnly, default);
        Assert.Equal(WriteOutcome.Created, created.Outcome);
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, created.Version), await store.PutAsync(B("k"), B("2"), CreateOnly, default));
        var replaced = await store.PutAsync(B("k"), B("2"), IfMatch(created.Version), default);
        Assert.Equal(WriteOutcome.Replaced, replaced.Outcome);
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, replaced.Version), await store.PutAsync(B("k"), B("3"), IfMatch(created.Version), default));
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, replaced.Version), await store.DeleteAsync(B("k"), IfMatch(created.Version), default));
        Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, 0), await store.PutAsync(B("absent"), B("1"), new Precondition(VersionSet.AnyVersion, default), default));
        Assert.Equal(WriteOutcome.NotFound, (await store.DeleteAsync(B("absent"), IfMatch(1), default)).Outcome);
        Assert.Equal("2", Encoding.UTF8.GetString((await store.GetAsync(B("k"), default)).Json.Span));
        Assert.Equal(WriteOutcome.Deleted, (await store.DeleteAsync(B("k"), IfMatch(99, replaced.Version), default)).Outcome);
    }

    [Fact]
    public async Task Of_concurrent_conditional_puts_with_one_version_exactly_one_succeeds()
    {
        using var store = Open();
        for (var round = 0; round < 20; round++)
        {
            var basis = await store.PutAsync(B("k"), B("0"), Precondition.None, default);
            var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
                Task.Run(() => store.PutAsync(B("k"), B($"{i}"), IfMatch(basis.Version), default).AsTask())));
            var winner = Assert.Single(results, r => r.Outcome == WriteOutcome.Replaced);
            Assert.All(results.Where(r => r != winner), r => Assert.Equal(new WriteResult(WriteOutcome.PreconditionFailed, winner.Version), r));
        }
    }
}
