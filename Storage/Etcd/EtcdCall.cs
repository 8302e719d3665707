namespace AotKvs.Storage.Etcd;

/// <summary>The etcd gRPC methods this store calls; each says whether repeating it is harmless.</summary>
internal sealed class EtcdCall
{
    public static readonly EtcdCall Range = new("get", "/etcdserverpb.KV/Range", idempotent: true);
    public static readonly EtcdCall Put = new("put", "/etcdserverpb.KV/Put", idempotent: false);
    public static readonly EtcdCall DeleteRange = new("delete", "/etcdserverpb.KV/DeleteRange", idempotent: false);
    public static readonly EtcdCall Txn = new("txn", "/etcdserverpb.KV/Txn", idempotent: false);
    public static readonly EtcdCall Authenticate = new("authenticate", "/etcdserverpb.Auth/Authenticate", idempotent: true);

    /// <summary>A grant sent twice leaves one lease unused, which etcd drops at its TTL: harmless.</summary>
    public static readonly EtcdCall LeaseGrant = new("lease_grant", "/etcdserverpb.Lease/LeaseGrant", idempotent: true);

    public static readonly EtcdCall LeaseRevoke = new("lease_revoke", "/etcdserverpb.Lease/LeaseRevoke", idempotent: true);

    /// <summary>The unary calls, each counted in /metrics.</summary>
    public static readonly EtcdCall[] All = [Range, Put, DeleteRange, Txn, Authenticate, LeaseGrant, LeaseRevoke];

    /// <summary>
    /// A stream, not a call: it lasts as long as its waiter, so it is counted apart
    /// (kvs_store_watches), never in the calls' latency.
    /// </summary>
    public static readonly EtcdCall Watch = new("watch", "/etcdserverpb.Watch/Watch", idempotent: true);

    private EtcdCall(string name, string path, bool idempotent)
    {
        Name = name;
        Path = path;
        Idempotent = idempotent;
    }

    /// <summary>The "op" label in /metrics.</summary>
    public string Name { get; }

    public string Path { get; }

    /// <summary>
    /// A read may be sent again to another endpoint after any failure. A write may only when
    /// it surely never reached etcd (the connection was refused): sent twice, its second
    /// answer would report the first one's change (replaced instead of created).
    /// </summary>
    public bool Idempotent { get; }
}
