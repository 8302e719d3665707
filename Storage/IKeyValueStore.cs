namespace AotKvs.Storage;

internal enum PutOutcome { Created, Replaced }

internal enum WriteOutcome { Created, Replaced, Deleted, NotFound, PreconditionFailed }

/// <summary>
/// A PUT's or DELETE's outcome. <see cref="Version"/>: after Created or Replaced, the version
/// now stored; after PreconditionFailed, the key's current version (0: absent); else 0.
/// </summary>
internal readonly record struct WriteResult(WriteOutcome Outcome, ulong Version);

/// <summary>
/// Where a main keeps its data: UTF-8 keys to the exact JSON text of their values. Memory
/// (Storage/Memory) is the default; other stores keep it on disk or in a cluster.
/// Every call decides its outcome atomically (PUT's created/replaced and DELETE's found/not
/// come from the change itself, never from a read before it). A store that completes a call
/// at once returns a completed ValueTask, so the memory store's requests allocate nothing
/// here. A store that cannot answer throws <see cref="StoreException"/>.
/// Every stored value has a version (never 0): it changes with every successful write of
/// the key and is never given to another value of the same key within
/// <see cref="VersionScope"/>. A write may carry a <see cref="Precondition"/>, checked in the
/// same step as the change.
/// </summary>
internal interface IKeyValueStore
{
    /// <summary>
    /// Names the numbering the versions belong to (a process's memory, a data dir, a
    /// cluster), so that a version from another numbering is never taken for one of ours.
    /// Empty for a store without versions; null while a store with versions cannot name it
    /// yet (a cluster that has not answered since start-up).
    /// </summary>
    string? VersionScope { get; }

    /// <summary>The value's JSON and version, or not found. The memory stays valid and unchanged while the answer is written.</summary>
    ValueTask<StoredValue> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancel);

    /// <summary>
    /// Stores the value if <paramref name="condition"/> holds for the key's current version
    /// (Created, Replaced, or PreconditionFailed, changing nothing); when it returns, the change
    /// is as durable as the store promises. <paramref name="lifetime"/>: from
    /// <see cref="Lifetime.Deadline"/> on, the key is absent (it expired: its version is 0 and
    /// its waiters wake); <see cref="Lifetime.Forever"/> stores it without a deadline, removing
    /// any the key had. A key that has expired is absent to every call, sweep or not.
    /// </summary>
    ValueTask<WriteResult> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, Precondition condition, Lifetime lifetime, CancellationToken cancel);

    /// <summary>
    /// Deleted if the key existed and <paramref name="condition"/> held; NotFound for an
    /// absent key, whatever the condition (RFC 9110 §13.2.1: it applies only where the
    /// answer would otherwise succeed); PreconditionFailed, changing nothing.
    /// </summary>
    ValueTask<WriteResult> DeleteAsync(ReadOnlyMemory<byte> key, Precondition condition, CancellationToken cancel);

    /// <summary>
    /// Completes once the key's current version is not <paramref name="version"/> (0: absent,
    /// expired included): at once if it already differs, a change since the caller's read
    /// included, so no change between a read and this call is ever missed. Changes the caller
    /// has not seen may come and go while it waits; it is told of a difference, not of every
    /// change. Throws OperationCanceledException when <paramref name="cancel"/> fires (the
    /// caller's wait ended or its client left) and StoreException when the store cannot watch.
    /// </summary>
    ValueTask WaitForChangeAsync(ReadOnlyMemory<byte> key, ulong version, CancellationToken cancel);
}

/// <summary>How long a PUT's value lives: forever, or until a deadline some whole seconds away.</summary>
internal readonly record struct Lifetime(int Seconds)
{
    /// <summary>The longest lifetime a PUT may ask for: ten years.</summary>
    public const int MaxSeconds = 315_360_000;

    public static Lifetime Forever => default;

    public bool IsForever => Seconds == 0;

    /// <summary>The deadline in Unix milliseconds (wall clock, so a data dir's deadlines outlive restarts) of a write made at <paramref name="nowUnixMs"/>.</summary>
    public long Deadline(long nowUnixMs) => IsForever ? 0 : nowUnixMs + Seconds * 1000L;
}

/// <summary>The calls that most callers make without a lifetime.</summary>
internal static class KeyValueStoreExtensions
{
    public static ValueTask<WriteResult> PutAsync(this IKeyValueStore store, ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, Precondition condition, CancellationToken cancel) =>
        store.PutAsync(key, valueJson, condition, Lifetime.Forever, cancel);
}

/// <summary>A GET's result: the value's JSON text and its version, or nothing.</summary>
internal readonly record struct StoredValue(bool Found, ReadOnlyMemory<byte> Json, ulong Version = 0)
{
    public static readonly StoredValue Missing = new(false, default);
}
