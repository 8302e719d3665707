using System.Globalization;

namespace AotKvs.Storage.Etcd;

/// <summary>
/// A main's data in an etcd cluster, one etcd key per key (the prefix, then the key's UTF-8
/// bytes) holding the value's exact JSON text. Each request is one etcd call whose own
/// answer decides the outcome: a linearizable range for GET, a put returning the previous
/// value (created or replaced) for PUT, a deleterange counting what it deleted for DELETE.
/// A value's version is the key's mod_revision, numbered by the cluster, whose id is the
/// <see cref="VersionScope"/>: every main over one cluster gives the same version for the same
/// value. A conditional PUT or DELETE is an etcd transaction (<see cref="EtcdConditional"/>).
/// </summary>
internal sealed class EtcdStore(EtcdChannel channel, byte[] prefix) : IKeyValueStore
{
    private readonly Lock _learning = new();
    private ulong _clusterId;
    private volatile string? _scope;

    /// <summary>The cluster's id, 16 hex digits, from the first answer; empty before any.</summary>
    public string? VersionScope => _scope; // null until the cluster's first answer names it

    public async ValueTask<StoredValue> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancel)
    {
        var answer = await channel.CallAsync(EtcdCall.Range, EtcdProto.KeyOnly(prefix, key.Span), cancel);
        var (value, modRevision, header) = Read(answer, static a => (EtcdProto.RangeValue(a), EtcdProto.ModRevision(a), EtcdProto.Header(a)));
        Learn(header);
        return value is null ? StoredValue.Missing : new StoredValue(true, value, Version(modRevision));
    }

    public async ValueTask<WriteResult> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, Precondition condition, Lifetime lifetime, CancellationToken cancel)
    {
        if (!lifetime.IsForever)
            throw new StoreException(StoreFailure.ExpiryUnsupported, "leases are not used yet");
        if (!condition.IsNone)
            return await new EtcdConditional(this, channel, prefix, key, valueJson, condition).RunAsync(cancel);
        var answer = await channel.CallAsync(EtcdCall.Put, EtcdProto.Put(prefix, key.Span, valueJson.Span), cancel);
        var (replaced, header) = Read(answer, static a => (EtcdProto.HasPreviousValue(a), EtcdProto.Header(a)));
        Learn(header);
        // The put's revision is the key's new mod_revision.
        return new(replaced ? WriteOutcome.Replaced : WriteOutcome.Created, Version(header.Revision));
    }

    public async ValueTask<WriteResult> DeleteAsync(ReadOnlyMemory<byte> key, Precondition condition, CancellationToken cancel)
    {
        if (!condition.IsNone)
            return await new EtcdConditional(this, channel, prefix, key, null, condition).RunAsync(cancel);
        var answer = await channel.CallAsync(EtcdCall.DeleteRange, EtcdProto.KeyOnly(prefix, key.Span), cancel);
        return new(Read(answer, EtcdProto.Deleted) > 0 ? WriteOutcome.Deleted : WriteOutcome.NotFound, 0);
    }

    public ValueTask WaitForChangeAsync(ReadOnlyMemory<byte> key, ulong version, CancellationToken cancel) =>
        throw new StoreException(StoreFailure.WatchUnsupported, "etcd watches are not used yet");

    /// <summary>
    /// A linearizable read of the prefix itself, a key that never holds a value (keys are
    /// never empty): it needs a quorum, as every request does. Its answer names the cluster.
    /// </summary>
    public async Task ProbeAsync(CancellationToken cancel)
    {
        var answer = await channel.CallAsync(EtcdCall.Range, EtcdProto.KeyOnly(prefix, default), cancel, queued: false);
        Learn(Read(answer, EtcdProto.Header));
    }

    /// <summary>
    /// Takes the cluster's id from the first answer. Revisions from another cluster (the
    /// endpoints now lead elsewhere) are numbered apart from ours: such an answer is refused
    /// as unavailable, never passed off under our scope.
    /// </summary>
    internal void Learn(ResponseHeader header)
    {
        if (_scope is null)
            lock (_learning)
                if (_scope is null && header.ClusterId != 0)
                {
                    _clusterId = header.ClusterId;
                    _scope = header.ClusterId.ToString("x16", CultureInfo.InvariantCulture);
                }
        if (header.ClusterId != _clusterId)
            throw new StoreException(StoreFailure.Unavailable, $"etcd answered for cluster {header.ClusterId:x16}, not {_clusterId:x16}");
    }

    /// <summary>Whether the scope is known, so that a client's tags could be read against it.</summary>
    internal bool KnowsScope => _scope is not null;

    /// <summary>A found key's mod_revision, which etcd numbers from 1.</summary>
    internal static ulong Version(long modRevision) =>
        modRevision > 0 ? (ulong)modRevision : throw new StoreException(StoreFailure.Unavailable, $"etcd answered a revision of {modRevision}");

    /// <summary>An answer that is not what etcd promises means a broken hop: unavailable, not a crash.</summary>
    internal static T Read<T>(byte[] answer, ReadAnswer<T> read)
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
