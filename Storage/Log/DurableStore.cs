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
/// </summary>
internal sealed class DurableStore(MemoryStore memory, WriteAheadLog log, DataDirectory dir) : IKeyValueStore, IDisposable
{
    private const int Slots = 4096;
    private readonly long[] _latest = new long[Slots];

    public ValueTask<StoredValue> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancel)
    {
        ThrowIfFailed();
        var found = memory.TryGet(key.Span, out var entry)
            ? new StoredValue(true, Entry.ValueMemory(entry))
            : StoredValue.Missing;
        return AnswerOnceDurable(key.Span, found);
    }

    public string VersionScope => "";

    public ValueTask<WriteResult> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, Precondition condition, CancellationToken cancel)
    {
        Unconditional.Require(condition);
        WriteResult outcome;
        Task committed;
        lock (log.Gate)
        {
            // The slot is numbered before memory changes, so a reader that sees the change sees its number.
            Volatile.Write(ref _latest[Slot(key.Span)], log.Append(RecordKind.Put, key.Span, valueJson.Span, out committed));
            outcome = new(memory.Put(key.Span, valueJson.Span) == PutOutcome.Created ? WriteOutcome.Created : WriteOutcome.Replaced, 0);
        }
        return AfterCommit(committed, outcome);
    }

    public ValueTask<WriteResult> DeleteAsync(ReadOnlyMemory<byte> key, Precondition condition, CancellationToken cancel)
    {
        Unconditional.Require(condition);
        Task committed;
        lock (log.Gate)
        {
            if (!memory.TryGet(key.Span, out _))
                committed = null!;
            else
            {
                Volatile.Write(ref _latest[Slot(key.Span)], log.Append(RecordKind.Delete, key.Span, default, out committed));
                memory.TryRemove(key.Span);
            }
        }
        if (committed is null) // "not found" is a read: it waits like one
        {
            ThrowIfFailed();
            return AnswerOnceDurable(key.Span, new WriteResult(WriteOutcome.NotFound, 0));
        }
        return AfterCommit(committed, new WriteResult(WriteOutcome.Deleted, 0));
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
