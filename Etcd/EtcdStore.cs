using System.Text.Json;
using AotKvs.Storage;

namespace AotKvs.Etcd;

/// <summary>
/// A main's data in an etcd cluster, one etcd key per key (the prefix, then the key's UTF-8
/// bytes) holding the value's exact JSON text. Each request is one etcd call whose own
/// answer decides the outcome: a linearizable range for GET, a put returning the previous
/// value (created or replaced) for PUT, a deleterange counting what it deleted for DELETE.
/// </summary>
internal sealed class EtcdStore(EtcdChannel channel, byte[] prefix) : IKeyValueStore
{
    public async ValueTask<StoredValue> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancel)
    {
        var answer = await channel.CallAsync(EtcdCall.Range, EtcdJson.KeyOnly(prefix, key.Span), cancel);
        return Read(answer, EtcdJson.RangeValue) is { } value ? new StoredValue(true, value) : StoredValue.Missing;
    }

    public async ValueTask<PutOutcome> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, CancellationToken cancel)
    {
        var answer = await channel.CallAsync(EtcdCall.Put, EtcdJson.Put(prefix, key.Span, valueJson.Span), cancel);
        return Read(answer, EtcdJson.HasPreviousValue) ? PutOutcome.Replaced : PutOutcome.Created;
    }

    public async ValueTask<bool> DeleteAsync(ReadOnlyMemory<byte> key, CancellationToken cancel)
    {
        var answer = await channel.CallAsync(EtcdCall.DeleteRange, EtcdJson.KeyOnly(prefix, key.Span), cancel);
        return Read(answer, EtcdJson.Deleted) > 0;
    }

    /// <summary>
    /// A linearizable read of the prefix itself, a key that never holds a value (keys are
    /// never empty): it needs a quorum, as every request does.
    /// </summary>
    public Task ProbeAsync(CancellationToken cancel) =>
        channel.CallAsync(EtcdCall.Range, EtcdJson.KeyOnly(prefix, default), cancel, queued: false);

    /// <summary>An answer that is not what the gateway promises means a broken hop: unavailable, not a crash.</summary>
    private static T Read<T>(byte[] answer, Func<byte[], T> read)
    {
        try
        {
            return read(answer);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            throw new StoreException(StoreFailure.Unavailable, $"etcd answered what the gateway never sends: {e.Message}", e);
        }
    }
}
