namespace AotKvs.Configuration;

internal enum LogFormat { Text, Json }

/// <summary>The log settings of <see cref="Settings"/>, read and checked.</summary>
internal sealed record LogSettings(LogFormat Format, LogLevel Level, string Instance, bool AccessLog)
{
    public static LogSettings Load(IConfiguration config) => new(
        Settings.LogFormat.Read(config),
        Settings.LogLevel.Read(config),
        Settings.Instance.Read(config) ?? Environment.MachineName,
        Settings.AccessLog.Read(config));
}
