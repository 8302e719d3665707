namespace AotKvs.Storage.Memory;

/// <summary>
/// The requests waiting for one key to change (watches), all on one task that the key's next
/// change completes. A shard keeps one per watched key, under the shard's lock: a waiter
/// registers in the same step as it reads the key's version, and a write wakes in the same
/// step as it changes the key, so no change between the two is ever missed. Continuations run
/// on the thread pool, never under the lock. Each waiter costs this object's share, its
/// await on <see cref="Changed"/> and its cancellation registration.
/// </summary>
internal sealed class KeyWaiters
{
    private readonly TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the key's next change.</summary>
    public Task Changed => _changed.Task;

    /// <summary>Waiters still waiting on <see cref="Changed"/>; under the shard's lock.</summary>
    public int Count { get; set; }

    public void Wake() => _changed.TrySetResult();
}

/// <summary>Compares raw UTF-8 keys by content, and looks them up by a span without copying.</summary>
internal sealed class KeyBytesComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly KeyBytesComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x is not null && y is not null && x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] key) => EntryKeyComparer.Hash(key);

    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    public int GetHashCode(ReadOnlySpan<byte> alternate) => EntryKeyComparer.Hash(alternate);

    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
}
