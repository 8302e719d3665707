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
/// A PUT with a lifetime puts the key under an etcd lease of that TTL, granted for it; a wait
/// for a change is an etcd watch on the key (<see cref="WaitForChangeAsync"/>).
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
        var lease = lifetime.IsForever ? 0 : await GrantAsync(lifetime, cancel);
        if (!condition.IsNone)
        {
            var result = await new EtcdConditional(this, channel, prefix, key, valueJson, condition, lease).RunAsync(cancel);
            // Nothing was put under the new lease. (After a failure it is left to expire: the
            // put may have reached etcd, and revoking the lease would delete the key.)
            if (result.Outcome == WriteOutcome.PreconditionFailed)
                Revoke(lease, 0);
            return result;
        }
        var answer = await channel.CallAsync(EtcdCall.Put, EtcdProto.Put(prefix, key.Span, valueJson.Span, lease), cancel);
        var (replaced, previousLease, header) = Read(answer, static a => (EtcdProto.HasPreviousValue(a), EtcdProto.PreviousLease(a), EtcdProto.Header(a)));
        Learn(header);
        Revoke(previousLease, lease);
        // The put's revision is the key's new mod_revision.
        return new(replaced ? WriteOutcome.Replaced : WriteOutcome.Created, Version(header.Revision));
    }

    /// <summary>
    /// A lease of the lifetime for one PUT: etcd deletes the key when the lease ends, for every
    /// main at once (its waiters see the deletion as any other). Each PUT with a lifetime gets
    /// a lease of its own, so a lease never holds more than one key. etcd counts a lease's TTL
    /// from its grant (whole seconds, at least its minimum, about 1.5 election timeouts) and
    /// revokes it at the leader's next check after that (every 500 ms); a new leader gives
    /// every lease its whole TTL again, so a key may outlive its deadline by up to one TTL
    /// across a leader change.
    /// </summary>
    private async Task<long> GrantAsync(Lifetime lifetime, CancellationToken cancel)
    {
        var answer = await channel.CallAsync(EtcdCall.LeaseGrant, EtcdProto.LeaseGrant(lifetime.Seconds), cancel);
        var (lease, header) = Read(answer, static a => (EtcdProto.LeaseId(a), EtcdProto.Header(a)));
        Learn(header);
        return lease;
    }

    /// <summary>
    /// The lease of the value a PUT replaced now holds no key (the PUT moved the key to its own
    /// lease, or to none): it is revoked in the background, which deletes nothing. Should the
    /// revoke fail, the lease just expires at its TTL, empty; so a renewal never leaves a lease
    /// behind for longer than the lifetime it replaced. An empty lease costs etcd a few hundred
    /// bytes until then.
    /// </summary>
    internal void Revoke(long previousLease, long lease)
    {
        if (previousLease == 0 || previousLease == lease)
            return;
        _ = RevokeQuietlyAsync(previousLease);
    }

    private async Task RevokeQuietlyAsync(long lease)
    {
        try
        {
            await channel.CallAsync(EtcdCall.LeaseRevoke, EtcdProto.LeaseRevoke(lease), CancellationToken.None);
        }
        catch (StoreException)
        {
            // Already expired (NotFound), or etcd cannot answer now: it expires by itself.
        }
    }

    public async ValueTask<WriteResult> DeleteAsync(ReadOnlyMemory<byte> key, Precondition condition, CancellationToken cancel)
    {
        if (!condition.IsNone)
            return await new EtcdConditional(this, channel, prefix, key, null, condition).RunAsync(cancel);
        var answer = await channel.CallAsync(EtcdCall.DeleteRange, EtcdProto.KeyOnly(prefix, key.Span), cancel);
        return new(Read(answer, EtcdProto.Deleted) > 0 ? WriteOutcome.Deleted : WriteOutcome.NotFound, 0);
    }

    /// <summary>
    /// An etcd watch on exactly the key, opened first; then a linearizable read of the key, so
    /// that any change after the read is an event on the watch and any change before it is in
    /// the read. Returns at once if the read's version is not <paramref name="version"/>, else at
    /// the first event newer than the read. A watch that etcd cancels or whose history was
    /// compacted away is opened again and the key read again (at most
    /// <see cref="WatchAttempts"/> times in a row without an event). One HTTP/2 stream per
    /// waiter, reset (the watch ended in etcd) when the wait ends, however it ends.
    /// </summary>
    public async ValueTask WaitForChangeAsync(ReadOnlyMemory<byte> key, ulong version, CancellationToken cancel)
    {
        string? why = null;
        for (var attempt = 0; attempt < WatchAttempts; attempt++)
        {
            using var watch = await channel.WatchAsync(EtcdProto.WatchCreate(prefix, key.Span), Learn, cancel);
            var (current, seen) = await ReadVersionAsync(key, cancel);
            if (current != version)
                return;
            while (true)
            {
                var (answer, header) = await watch.NextAsync(cancel);
                if (answer.Canceled || answer.CompactRevision != 0)
                {
                    why = answer.CancelReason ?? $"history compacted at {answer.CompactRevision}";
                    break;
                }
                if (header.ClusterId != 0)
                    Learn(header);
                if (answer.Events == 0 || answer.NewestRevision <= seen)
                    continue; // progress, or changes the read already saw
                if (answer.NewestRevision != long.MaxValue)
                    return;
                // Events too large to read: the key decides.
                (current, seen) = await ReadVersionAsync(key, cancel);
                if (current != version)
                    return;
            }
            (current, _) = await ReadVersionAsync(key, cancel);
            if (current != version)
                return;
        }
        throw new StoreException(StoreFailure.Unavailable, $"etcd ended the watch {WatchAttempts} times in a row: {why}");
    }

    /// <summary>Watches opened for one wait, each after the last was canceled by etcd without an event.</summary>
    public const int WatchAttempts = 3;

    /// <summary>The key's version now (0: absent) and the revision the read saw.</summary>
    private async Task<(ulong Version, long Revision)> ReadVersionAsync(ReadOnlyMemory<byte> key, CancellationToken cancel)
    {
        var answer = await channel.CallAsync(EtcdCall.Range, EtcdProto.KeyOnly(prefix, key.Span), cancel);
        var (modRevision, header) = Read(answer, static a => (EtcdProto.ModRevision(a), EtcdProto.Header(a)));
        Learn(header);
        return (modRevision == 0 ? 0 : Version(modRevision), header.Revision);
    }

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
