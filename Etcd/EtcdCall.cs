namespace AotKvs.Etcd;

/// <summary>The gateway's paths this store calls; each says whether repeating it is harmless.</summary>
internal sealed class EtcdCall
{
    public static readonly EtcdCall Range = new("get", "/v3/kv/range", idempotent: true);
    public static readonly EtcdCall Put = new("put", "/v3/kv/put", idempotent: false);
    public static readonly EtcdCall DeleteRange = new("delete", "/v3/kv/deleterange", idempotent: false);
    public static readonly EtcdCall Authenticate = new("authenticate", "/v3/auth/authenticate", idempotent: true);

    public static readonly EtcdCall[] All = [Range, Put, DeleteRange, Authenticate];

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
