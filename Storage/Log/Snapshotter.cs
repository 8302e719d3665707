using AotKvs.Storage.Memory;

namespace AotKvs.Storage.Log;

/// <summary>
/// Compaction: every live entry of memory, with its version and deadline (entries already
/// past theirs are left out), written as "snapshot.N" beside the log "log.N"
/// the writer has just switched to. Memory keeps changing while it is read, so an entry may
/// be newer than the switch; replaying log.N over it still ends at the latest value, since
/// every change after the switch is in log.N. The snapshot counts only once renamed into
/// place (after its fsync, then the dir's), so a crash at any point leaves either the old
/// files or the new ones whole; the older files go last.
/// </summary>
internal sealed class Snapshotter(DataDirectory dir, MemoryStore memory, long snapshotBytes)
{
    private const int WriteBufferBytes = 1 << 20;
    private long _snapshotBytes = snapshotBytes;
    private long _compactions;

    public long SnapshotBytes => Interlocked.Read(ref _snapshotBytes);
    public long Compactions => Interlocked.Read(ref _compactions);

    /// <summary>Writes snapshot.<paramref name="generation"/> and removes older files; returns the log bytes removed.</summary>
    public long Write(int generation)
    {
        long written;
        using (var file = new FileStream(dir.TempSnapshotFile, FileMode.Create, FileAccess.Write, FileShare.None, WriteBufferBytes))
        {
            var record = new byte[64 * 1024];
            // Read before any entry: every version given before the switch to log.N is at most
            // this, deleted keys' included; later ones are in log.N.
            var floor = memory.LastVersion;
            if (floor > 0)
                file.Write(record, 0, LogRecord.Write(record, RecordKind.VersionFloor, default, default, floor));
            var now = memory.NowUnixMs;
            foreach (var entry in memory.Entries())
            {
                // An expired value not yet swept is left out; the floor keeps its version.
                var deadline = Entry.Deadline(entry);
                if (deadline != 0 && deadline <= now)
                    continue;
                var kind = deadline == 0 ? RecordKind.VersionedPut : RecordKind.ExpiringPut;
                var key = Entry.Key(entry);
                var value = Entry.Value(entry);
                var size = LogRecord.Size(kind, key.Length, value.Length);
                if (size > record.Length)
                    record = new byte[size];
                LogRecord.Write(record, kind, key, value, Entry.Version(entry), deadline);
                file.Write(record, 0, size);
            }
            file.Flush(flushToDisk: true);
            written = file.Length;
        }
        File.Move(dir.TempSnapshotFile, dir.SnapshotFile(generation), overwrite: true);
        dir.SyncDirectory();

        long removed = 0;
        foreach (var log in dir.LogGenerations())
            if (log < generation)
            {
                var path = dir.LogFile(log);
                removed += new FileInfo(path).Length;
                File.Delete(path);
            }
        foreach (var older in dir.SnapshotGenerations())
            if (older < generation)
                File.Delete(dir.SnapshotFile(older));
        Interlocked.Exchange(ref _snapshotBytes, written);
        Interlocked.Increment(ref _compactions);
        return removed;
    }
}
