namespace AotKvs.Storage;

internal enum PutOutcome { Created, Replaced }

/// <summary>
/// Where a main keeps its data: UTF-8 keys to the exact JSON text of their values. Memory
/// (Storage/Memory) is the default; other stores keep it on disk or in a cluster.
/// Every call decides its outcome atomically (PUT's created/replaced and DELETE's found/not
/// come from the change itself, never from a read before it). A store that completes a call
/// at once returns a completed ValueTask, so the memory store's requests allocate nothing
/// here. A store that cannot answer throws <see cref="StoreException"/>.
/// </summary>
internal interface IKeyValueStore
{
    /// <summary>The value's JSON, or not found. The memory stays valid and unchanged while the answer is written.</summary>
    ValueTask<StoredValue> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancel);

    /// <summary>Stores the value; when it returns, the change is as durable as the store promises.</summary>
    ValueTask<PutOutcome> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, CancellationToken cancel);

    /// <summary>True if the key existed and is now gone.</summary>
    ValueTask<bool> DeleteAsync(ReadOnlyMemory<byte> key, CancellationToken cancel);
}

/// <summary>A GET's result: the value's JSON text, or nothing.</summary>
internal readonly record struct StoredValue(bool Found, ReadOnlyMemory<byte> Json)
{
    public static readonly StoredValue Missing = new(false, default);
}
