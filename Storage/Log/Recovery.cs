using AotKvs.Storage.Memory;

namespace AotKvs.Storage.Log;

/// <summary>What start-up found in the data dir.</summary>
internal sealed record RecoveryResult(long Records, long DroppedBytes, int Generation, long SnapshotBytes, long LogBytes, string? Damage);

/// <summary>
/// Rebuilds the store from the data dir before main listens: the newest whole snapshot,
/// then every log of its generation or later, in order. Each value gets back the version its
/// record carries, and the store's counter ends above every version seen (a snapshot's floor
/// included), so no version is given twice across restarts. A value whose deadline has
/// passed is left out (its version still counts): expiry is never logged, the deadline in
/// the record says it. Replay stops at the first torn or
/// corrupt record: everything before it is kept, that file is cut there and later logs are
/// removed (applying changes past a gap would make a state that never existed). A torn
/// tail is what a crash mid-write leaves, so it never stops start-up.
/// </summary>
internal static class Recovery
{
    private const int ReadBufferBytes = 1 << 20;

    public static RecoveryResult Run(DataDirectory dir, MemoryStore memory)
    {
        File.Delete(dir.TempSnapshotFile); // a compaction that never finished
        var snapshots = dir.SnapshotGenerations();
        var snapshot = snapshots.Length > 0 ? snapshots[^1] : 0;
        foreach (var older in snapshots[..^Math.Min(1, snapshots.Length)])
            File.Delete(dir.SnapshotFile(older));
        foreach (var log in dir.LogGenerations())
            if (log < snapshot)
                File.Delete(dir.LogFile(log));

        long records = 0, dropped = 0, snapshotBytes = 0, logBytes = 0;
        string? damage = null;
        if (snapshot > 0)
        {
            var path = dir.SnapshotFile(snapshot);
            var (count, valid, length) = Replay(path, memory);
            records += count;
            snapshotBytes = valid;
            if (valid < length)
            {
                damage = $"{Path.GetFileName(path)} damaged at byte {valid}";
                dropped += length - valid;
                Truncate(path, valid);
            }
        }

        var logs = dir.LogGenerations();
        var generation = Math.Max(snapshot, 1);
        foreach (var log in logs)
        {
            var path = dir.LogFile(log);
            if (damage is not null) // past a gap: drop the whole file
            {
                dropped += new FileInfo(path).Length;
                File.Delete(path);
                continue;
            }
            var (count, valid, length) = Replay(path, memory);
            records += count;
            logBytes += valid;
            generation = log;
            if (valid < length)
            {
                damage = $"{Path.GetFileName(path)} torn or corrupt at byte {valid}";
                dropped += length - valid;
                Truncate(path, valid);
            }
        }
        dir.SyncDirectory();
        return new RecoveryResult(records, dropped, generation, snapshotBytes, logBytes, damage);
    }

    /// <summary>Applies every valid record of one file; returns how many, where the valid part ends, and the file's length.</summary>
    public static (long Records, long ValidBytes, long FileBytes) Replay(string path, MemoryStore memory)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        var length = file.Length;
        // One "now" for the whole file: a value whose deadline has passed is left out.
        var now = memory.NowUnixMs;
        var buffer = new byte[ReadBufferBytes];
        long bufferOffset = 0, records = 0;
        int start = 0, end = 0;
        while (true)
        {
            var status = LogRecord.TryRead(buffer.AsSpan(start, end - start), out var kind, out var key, out var value, out var version, out var deadline, out var needed);
            if (status == ReadStatus.Record)
            {
                switch (kind)
                {
                    case RecordKind.VersionedPut:
                        memory.Put(key, value, version); // later new versions are above it
                        break;
                    case RecordKind.ExpiringPut when deadline > now:
                        memory.Put(key, value, version, deadline); // memory hides and sweeps it at its deadline
                        break;
                    case RecordKind.ExpiringPut:
                        // Past its deadline (expiry is never a record): absent, as it is to
                        // every reader from then on, but its version was given all the same.
                        memory.TryRemove(key);
                        memory.ReserveVersionsThrough(version);
                        break;
                    case RecordKind.Put: // from before versions: the next version, the same at every start
                        memory.Put(key, value);
                        break;
                    case RecordKind.Delete:
                        memory.TryRemove(key);
                        break;
                    default:
                        memory.ReserveVersionsThrough(version);
                        break;
                }
                start += (int)needed;
                if (kind != RecordKind.VersionFloor)
                    records++;
                continue;
            }
            if (status == ReadStatus.Corrupt || needed > length - (bufferOffset + start))
                return (records, bufferOffset + start, length); // corrupt, torn, or simply the end

            // Incomplete in the buffer but present in the file: move it to the front and read on.
            buffer.AsSpan(start, end - start).CopyTo(buffer);
            bufferOffset += start;
            end -= start;
            start = 0;
            if (needed > buffer.Length)
                Array.Resize(ref buffer, (int)needed);
            while (end < buffer.Length && file.Read(buffer, end, buffer.Length - end) is var read and > 0)
                end += read;
        }
    }

    private static void Truncate(string path, long length)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.None, 1);
        file.SetLength(length);
        file.Flush(flushToDisk: true);
    }
}
