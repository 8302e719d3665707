namespace AotKvs.Configuration;

/// <summary>
/// Settings read once at start-up from configuration (environment variables, overridden
/// by the flags of <see cref="CommandLine"/>), as <see cref="Settings"/> declares them.
/// A bad value stops start-up with one clear message.
/// </summary>
internal sealed record ServiceOptions(
    ForwardingTarget? Forwarding,
    TimeSpan ForwardTimeout,
    int UpstreamConnections,
    long MaxBodyBytes,
    int MaxJsonDepth,
    int MaxConnections,
    int? Port,
    TimeSpan ReadyProbeInterval,
    LogSettings Logs,
    DurabilitySettings? Durability = null)
{
    public bool IsForwarding => Forwarding is not null;
    public string Role => IsForwarding ? "forwarding" : "main";

    public static ServiceOptions Load(IConfiguration config) => new(
        Forwarding: ReadForwarding(config),
        ForwardTimeout: TimeSpan.FromMilliseconds(Settings.ForwardTimeoutMs.Read(config)),
        UpstreamConnections: Settings.UpstreamConnections.Read(config),
        MaxBodyBytes: Settings.MaxBodyBytes.Read(config),
        MaxJsonDepth: Settings.MaxJsonDepth.Read(config),
        MaxConnections: Settings.MaxConnections.Read(config),
        // Unset leaves the port to the ASP.NET Core settings (ListenAddress), else 8090.
        Port: Settings.Port.ReadIfSet(config),
        ReadyProbeInterval: TimeSpan.FromMilliseconds(Settings.ReadyProbeMs.Read(config)),
        Logs: LogSettings.Load(config),
        Durability: DurabilitySettings.Load(config));

    private static ForwardingTarget? ReadForwarding(IConfiguration config)
    {
        if (Settings.ForwardingAddress.Read(config) is not { } address)
            return null;
        return ForwardingTarget.TryParse(address, out var target, out var problem)
            ? target
            : throw new InvalidSettingException(problem!);
    }
}
