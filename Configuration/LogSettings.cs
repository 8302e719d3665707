namespace AotKvs.Configuration;

internal enum LogFormat { Text, Json }

/// <summary>KVS_LOG_FORMAT, KVS_LOG_LEVEL, KVS_INSTANCE and KVS_ACCESS_LOG, checked.</summary>
internal sealed record LogSettings(LogFormat Format, LogLevel Level, string Instance, bool AccessLog)
{
    public static LogSettings Load(IConfiguration config)
    {
        var instance = config["KVS_INSTANCE"];
        return new LogSettings(
            Read(config, "KVS_LOG_FORMAT", LogFormat.Text, "text or json", text => text switch
            {
                "text" => LogFormat.Text,
                "json" => LogFormat.Json,
                _ => null,
            }),
            Read(config, "KVS_LOG_LEVEL", LogLevel.Information, "trace, debug, information, warning, error, critical or none", text => text switch
            {
                "trace" => LogLevel.Trace,
                "debug" => LogLevel.Debug,
                "information" or "info" => LogLevel.Information,
                "warning" or "warn" => LogLevel.Warning,
                "error" => LogLevel.Error,
                "critical" => LogLevel.Critical,
                "none" => LogLevel.None,
                _ => null,
            }),
            string.IsNullOrWhiteSpace(instance) ? Environment.MachineName : instance.Trim(),
            Read(config, "KVS_ACCESS_LOG", false, "true or false", text => text switch
            {
                "true" or "1" or "yes" or "on" => true,
                "false" or "0" or "no" or "off" => false,
                _ => null,
            }));
    }

    private static T Read<T>(IConfiguration config, string name, T fallback, string allowed, Func<string, T?> parse)
        where T : struct
    {
        var text = config[name];
        if (string.IsNullOrWhiteSpace(text))
            return fallback;
        return parse(text.Trim().ToLowerInvariant())
            ?? throw new InvalidSettingException($"{name} '{text}' must be {allowed}");
    }
}
