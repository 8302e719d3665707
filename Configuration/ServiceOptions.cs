namespace AotKvs.Configuration;

/// <summary>
/// Settings read once at start-up from configuration (environment variables, overridden
/// by the flags of <see cref="CommandLine"/>), as <see cref="Settings"/> declares them.
/// A bad value stops start-up with one clear message.
/// </summary>
internal sealed record ServiceOptions(
    ForwardingTarget? Forwarding,
    StoreSettings? Store,
    TimeSpan ForwardTimeout,
    int UpstreamConnections,
    int UpstreamPipeline,
    long MaxBodyBytes,
    long MaxBufferedBytes,
    int MaxJsonDepth,
    int MaxConnections,
    int MaxWaitSeconds,
    int MaxWaiters,
    int? Port,
    TimeSpan ReadyProbeInterval,
    LogSettings Logs,
    DurabilitySettings? Durability = null)
{
    public bool IsForwarding => Forwarding is not null;
    public string Role => IsForwarding ? "forwarding" : "main";

    public static ServiceOptions Load(IConfiguration config) => new(
        Forwarding: ReadForwarding(config),
        Store: ReadStore(config),
        ForwardTimeout: TimeSpan.FromMilliseconds(Settings.ForwardTimeoutMs.Read(config)),
        UpstreamConnections: Settings.UpstreamConnections.Read(config),
        UpstreamPipeline: Settings.UpstreamPipeline.Read(config),
        MaxBodyBytes: Settings.MaxBodyBytes.Read(config),
        MaxBufferedBytes: Settings.MaxBufferedBytes.Read(config),
        MaxJsonDepth: Settings.MaxJsonDepth.Read(config),
        MaxConnections: Settings.MaxConnections.Read(config),
        MaxWaitSeconds: Settings.MaxWaitSeconds.Read(config),
        MaxWaiters: Settings.MaxWaiters.Read(config),
        // Unset leaves the port to the ASP.NET Core settings (ListenAddress), else 8090.
        Port: Settings.Port.ReadIfSet(config),
        ReadyProbeInterval: TimeSpan.FromMilliseconds(Settings.ReadyProbeMs.Read(config)),
        Logs: LogSettings.Load(config),
        Durability: ReadDurability(config));

    /// <summary>A main keeps its data in one place: over a cluster, a data dir of its own would never be read.</summary>
    private static DurabilitySettings? ReadDurability(IConfiguration config)
    {
        var durability = DurabilitySettings.Load(config);
        if (durability is not null && Settings.Store.Read(config) is not null)
            throw new InvalidSettingException($"{Settings.DataDir.Variable} and {Settings.Store.Variable} name two places for main's data; set one");
        return durability;
    }

    /// <summary>A forwarder holds no data, so a store for it is a mistake worth stopping on.</summary>
    private static StoreSettings? ReadStore(IConfiguration config)
    {
        var store = StoreSettings.Load(config);
        if (store is not null && Settings.ForwardingAddress.Read(config) is not null)
            throw new InvalidSettingException("KVS_STORE is for main; FORWARDING_ADDRESS makes this instance a forwarder, which holds no data");
        return store;
    }

    private static ForwardingTarget? ReadForwarding(IConfiguration config)
    {
        if (Settings.ForwardingAddress.Read(config) is not { } address)
            return null;
        return ForwardingTarget.TryParse(address, out var target, out var problem)
            ? target
            : throw new InvalidSettingException(problem!);
    }
}
