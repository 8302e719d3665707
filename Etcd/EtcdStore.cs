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
    /// <summary>A key that never holds a value (keys are never empty): what the readiness probe reads.</summary>
    public byte[] ProbeKey => prefix;

    public async ValueTask<StoredValue> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancel)
    {
        var request = JsonSerializer.SerializeToUtf8Bytes(new RangeRequest(Prefixed(key)), EtcdJson.Default.RangeRequest);
        var answer = Read(await channel.CallAsync(EtcdCall.Range, request, cancel), EtcdJson.Default.RangeResponse);
        return answer.Kvs is [{ Value: { } value }, ..] ? new StoredValue(true, value) : StoredValue.Missing;
    }

    public async ValueTask<PutOutcome> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, CancellationToken cancel)
    {
        var request = JsonSerializer.SerializeToUtf8Bytes(new PutRequest(Prefixed(key), valueJson.ToArray(), PrevKv: true), EtcdJson.Default.PutRequest);
        var answer = Read(await channel.CallAsync(EtcdCall.Put, request, cancel), EtcdJson.Default.PutResponse);
        return answer.PrevKv is null ? PutOutcome.Created : PutOutcome.Replaced;
    }

    public async ValueTask<bool> DeleteAsync(ReadOnlyMemory<byte> key, CancellationToken cancel)
    {
        var request = JsonSerializer.SerializeToUtf8Bytes(new DeleteRangeRequest(Prefixed(key)), EtcdJson.Default.DeleteRangeRequest);
        var answer = Read(await channel.CallAsync(EtcdCall.DeleteRange, request, cancel), EtcdJson.Default.DeleteRangeResponse);
        return answer.Deleted > 0;
    }

    /// <summary>A linearizable read of <see cref="ProbeKey"/>: it needs a quorum, as every request does.</summary>
    public Task ProbeAsync(CancellationToken cancel) =>
        channel.CallAsync(EtcdCall.Range, JsonSerializer.SerializeToUtf8Bytes(new RangeRequest(prefix), EtcdJson.Default.RangeRequest), cancel, queued: false);

    private byte[] Prefixed(ReadOnlyMemory<byte> key)
    {
        var full = new byte[prefix.Length + key.Length];
        prefix.CopyTo(full, 0);
        key.Span.CopyTo(full.AsSpan(prefix.Length));
        return full;
    }

    /// <summary>An answer that is not what the gateway promises means a broken hop: unavailable, not a crash.</summary>
    private static T Read<T>(byte[] answer, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        try
        {
            return JsonSerializer.Deserialize(answer, type) ?? throw new JsonException("null answer");
        }
        catch (JsonException e)
        {
            throw new StoreException(StoreFailure.Unavailable, $"etcd answered what is not a {typeof(T).Name}: {e.Message}", e);
        }
    }
}
