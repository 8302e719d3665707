using AotKvs.Storage.Memory;

namespace AotKvs.Storage.Log;

/// <summary>
/// The store with a data dir: <see cref="MemoryStore"/> for the data, <see cref="WriteAheadLog"/>
/// for durability. A change is applied to memory and appended to the log under one lock, so
/// for every key the log's order is memory's order; it is answered once its record is as
/// durable as --sync says.
/// A read never shows a change that a crash could still lose: each key maps to one of
/// <see cref="Slots"/> slots holding the number of the latest change to any key there, and a
/// GET (or a DELETE that finds nothing) whose slot's change is not yet durable waits for the
/// flush that makes it so. Without that, a reader could see a value that a crash then takes
/// back, which no order of the operations explains.
/// Every value has the version its record carries (<see cref="LogRecord"/>), from memory's
/// counter, which recovery leaves above every version the data dir has seen. A precondition
/// is checked under the log's lock, which every change holds, so the check and the change are
/// one step; a 412 waits for durability like a read, as it shows the current version.
/// A value with a deadline (a PUT with a <see cref="Lifetime"/>) is absent from its deadline
/// on, as in memory: its record carries the deadline, and its expiry is never logged.
/// </summary>
internal sealed class DurableStore(MemoryStore memory, WriteAheadLog log, DataDirectory dir) : IKeyValueStore, IDisposable
{
    private const int Slots = 4096;
    private readonly long[] _latest = new long[Slots];

    public ValueTask<StoredValue> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancel)
    {
        ThrowIfFailed();
        var found = memory.TryGet(key.Span, out var entry)
            ? new StoredValue(true, Entry.ValueMemory(entry), Entry.Version(entry))
            : StoredValue.Missing;
        return AnswerOnceDurable(key.Span, found);
    }

    /// <summary>The data dir's own, made with it and kept in it: its versions outlive restarts.</summary>
    public string VersionScope => dir.VersionScope;

    /// <summary>
    /// A PUT with a lifetime appends <see cref="RecordKind.ExpiringPut"/> (its deadline in the
    /// record), one without appends <see cref="RecordKind.VersionedPut"/>, so a replay takes the
    /// deadline away again. Expiry itself writes nothing: memory hides the value from its
    /// deadline on and sweeps it, and recovery and compaction drop it by the deadline its
    /// record carries.
    /// </summary>
    public ValueTask<WriteResult> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, Precondition condition, Lifetime lifetime, CancellationToken cancel)
    {
        WriteResult outcome;
        Task committed;
        lock (log.Gate) // every change takes it: the check below and the change are one step
        {
            if (!condition.IsNone && Refused(key.Span, condition) is { } refused)
                outcome = refused;
            else
            {
                // The record carries the version, so the log's versions are memory's.
                var version = memory.NewVersion();
                // Wall clock (memory's), as a deadline must mean the same after a restart.
                var deadline = lifetime.Deadline(memory.NowUnixMs);
                var kind = deadline == 0 ? RecordKind.VersionedPut : RecordKind.ExpiringPut;
                // The slot is numbered before memory changes, so a reader that sees the change sees its number.
                Volatile.Write(ref _latest[Slot(key.Span)], log.Append(kind, key.Span, valueJson.Span, version, deadline, out committed));
                return AfterCommit(committed, new WriteResult(
                    memory.Put(key.Span, valueJson.Span, version, deadline) == PutOutcome.Created ? WriteOutcome.Created : WriteOutcome.Replaced, version));
            }
        }
        ThrowIfFailed();
        return AnswerOnceDurable(key.Span, outcome); // a 412 names the current version: a read
    }

    public ValueTask<WriteResult> DeleteAsync(ReadOnlyMemory<byte> key, Precondition condition, CancellationToken cancel)
    {
        WriteResult outcome;
        lock (log.Gate)
        {
            if (!memory.TryGet(key.Span, out var entry))
                outcome = new WriteResult(WriteOutcome.NotFound, 0);
            else if (!condition.IsNone && condition.Evaluate(Entry.Version(entry)) != PreconditionResult.Holds)
                outcome = new WriteResult(WriteOutcome.PreconditionFailed, Entry.Version(entry));
            else
            {
                Volatile.Write(ref _latest[Slot(key.Span)], log.Append(RecordKind.Delete, key.Span, default, 0, 0, out var committed));
                memory.TryRemove(key.Span);
                return AfterCommit(committed, new WriteResult(WriteOutcome.Deleted, 0));
            }
        }
        // "not found" and a failed condition are reads: they wait like one
        ThrowIfFailed();
        return AnswerOnceDurable(key.Span, outcome);
    }

    /// <summary>Memory's waiters: every change reaches memory under the log's lock. A woken reader's GET still waits for durability.</summary>
    public ValueTask WaitForChangeAsync(ReadOnlyMemory<byte> key, ulong version, CancellationToken cancel) =>
        memory.WaitForChangeAsync(key, version, cancel);

    /// <summary>The 412 for a condition the key's current version fails; null when it holds.</summary>
    private WriteResult? Refused(ReadOnlySpan<byte> key, Precondition condition)
    {
        var current = memory.TryGet(key, out var entry) ? Entry.Version(entry) : 0;
        return condition.Evaluate(current) == PreconditionResult.Holds ? null : new WriteResult(WriteOutcome.PreconditionFailed, current);
    }

    /// <summary>Writes what is pending, then lets go of the data dir's lock.</summary>
    public void Dispose()
    {
        log.Dispose();
        dir.Dispose();
    }

    /// <summary>A read's answer, once the latest change in the key's slot is durable.</summary>
    private ValueTask<T> AnswerOnceDurable<T>(ReadOnlySpan<byte> key, T answer)
    {
        var latest = Volatile.Read(ref _latest[Slot(key)]);
        return log.IsDurable(latest) ? new(answer) : WaitThen(log.WaitFor(latest), answer);
    }

    private static async ValueTask<T> WaitThen<T>(Task durable, T answer)
    {
        await durable;
        return answer;
    }

    private static ValueTask<T> AfterCommit<T>(Task committed, T answer) =>
        committed.IsCompletedSuccessfully ? new(answer) : WaitThen(committed, answer);

    private void ThrowIfFailed()
    {
        if (log.Failed) // memory may hold changes the disk never took
            throw new StoreException(StoreFailure.Unavailable, "the data dir's log failed");
    }

    private static int Slot(ReadOnlySpan<byte> key) => EntryKeyComparer.Hash(key) & (Slots - 1);
}
