
namespace AotKvs.Storage.Etcd;

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
        var answer = await channel.CallAsync(EtcdCall.Range, EtcdProto.KeyOnly(prefix, key.Span), cancel);
        return Read(answer, EtcdProto.RangeValue) is { } value ? new StoredValue(true, value) : StoredValue.Missing;
    }

    public string VersionScope => "";

    public async ValueTask<WriteResult> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, Precondition condition, CancellationToken cancel)
    {
        Unconditional.Require(condition);
        var answer = await channel.CallAsync(EtcdCall.Put, EtcdProto.Put(prefix, key.Span, valueJson.Span), cancel);
        return new(Read(answer, EtcdProto.HasPreviousValue) ? WriteOutcome.Replaced : WriteOutcome.Created, 0);
    }

    public async ValueTask<WriteResult> DeleteAsync(ReadOnlyMemory<byte> key, Precondition condition, CancellationToken cancel)
    {
        Unconditional.Require(condition);
        var answer = await channel.CallAsync(EtcdCall.DeleteRange, EtcdProto.KeyOnly(prefix, key.Span), cancel);
        return new(Read(answer, EtcdProto.Deleted) > 0 ? WriteOutcome.Deleted : WriteOutcome.NotFound, 0);
    }

    /// <summary>
    /// A linearizable read of the prefix itself, a key that never holds a value (keys are
    /// never empty): it needs a quorum, as every request does.
    /// </summary>
    public Task ProbeAsync(CancellationToken cancel) =>
        channel.CallAsync(EtcdCall.Range, EtcdProto.KeyOnly(prefix, default), cancel, queued: false);

    /// <summary>An answer that is not what etcd promises means a broken hop: unavailable, not a crash.</summary>
    private static T Read<T>(byte[] answer, ReadAnswer<T> read)
    {
        try
        {
            return read(answer);
        }
        catch (FormatException e)
        {
            throw new StoreException(StoreFailure.Unavailable, $"etcd answered what it never sends: {e.Message}", e);
        }
    }
}

internal delegate T ReadAnswer<out T>(ReadOnlySpan<byte> answer);
