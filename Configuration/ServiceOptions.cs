namespace AotKvs.Configuration;

/// <summary>
/// Settings read once at start-up from configuration (environment variables, overridden
/// by the flags of <see cref="CommandLine"/>). A bad value stops start-up with one clear message.
/// </summary>
internal sealed record ServiceOptions(
    ForwardingTarget? Forwarding,
    TimeSpan ForwardTimeout,
    long MaxBodyBytes,
    int MaxJsonDepth,
    int MaxConnections)
{
    public bool IsForwarding => Forwarding is not null;
    public string Role => IsForwarding ? "forwarding" : "main";

    /// <summary>KVS_PORT; null leaves the port to the ASP.NET Core settings, else 8090.</summary>
    public int? Port { get; init; }

    public TimeSpan ReadyProbeInterval { get; init; } = TimeSpan.FromSeconds(1);

    public LogSettings Logs { get; init; } = new(LogFormat.Text, LogLevel.Information, Environment.MachineName, AccessLog: false);

    public static ServiceOptions Load(IConfiguration config)
    {
        ForwardingTarget? forwarding = null;
        var address = config["FORWARDING_ADDRESS"];
        if (!string.IsNullOrWhiteSpace(address) && !ForwardingTarget.TryParse(address, out forwarding, out var problem))
            throw new InvalidSettingException(problem!);

        return new ServiceOptions(
            forwarding,
            TimeSpan.FromMilliseconds(ReadInt(config, "KVS_FORWARD_TIMEOUT_MS", 1000, 1, 600_000)),
            ReadInt(config, "KVS_MAX_BODY_BYTES", 16 * 1024 * 1024, 1, int.MaxValue),
            ReadInt(config, "KVS_MAX_JSON_DEPTH", 512, 1, 100_000),
            ReadInt(config, "KVS_MAX_CONNECTIONS", 10_000, 1, 1_000_000))
        {
            Port = string.IsNullOrWhiteSpace(config["KVS_PORT"]) ? null : ReadInt(config, "KVS_PORT", 0, 1, 65535),
            ReadyProbeInterval = TimeSpan.FromMilliseconds(ReadInt(config, "KVS_READY_PROBE_MS", 1000, 10, 3_600_000)),
            Logs = LogSettings.Load(config),
        };
    }

    internal static int ReadInt(IConfiguration config, string name, int fallback, int min, int max)
    {
        var text = config[name];
        if (string.IsNullOrWhiteSpace(text))
            return fallback;
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, null, out var value) || value < min || value > max)
            throw new InvalidSettingException($"{name} '{text}' must be a whole number from {min} to {max}");
        return value;
    }
}

internal sealed class InvalidSettingException(string message) : Exception(message);
