using System.Diagnostics.Metrics;
using System.Diagnostics;
using AotKvs.Configuration;
using AotKvs.Storage.Memory;

namespace AotKvs.Storage.Log;

/// <summary>
/// Main with a data dir: lock it, rebuild memory from it, then serve with every change
/// logged. All of it happens before the server listens, so the first answer already sees
/// the recovered data.
/// </summary>
internal static class DurabilitySetup
{
    public static WebApplicationBuilder AddDurableStore(this WebApplicationBuilder builder, ServiceOptions options)
    {
        var settings = options.Durability!;
        var started = Stopwatch.GetTimestamp();
        MemoryStore memory;
        DataDirectory dir;
        RecoveryResult recovered;
        try
        {
            dir = DataDirectory.Open(settings.DataDir);
            memory = new MemoryStore(dir.VersionScope);
            recovered = Recovery.Run(dir, memory);
        }
        catch (Exception e) when (e is DataDirException or IOException or UnauthorizedAccessException)
        {
            // Reported as a bad setting (one line, exit 2): the process cannot do its job.
            throw new InvalidSettingException(e is DataDirException ? e.Message : $"data dir {settings.DataDir} cannot be read or written ({e.GetType().Name})");
        }
        var recoveryTime = Stopwatch.GetElapsedTime(started);

        builder.Services.AddObservedMemoryStore(memory); // kvs_keys and kvs_value_bytes read it
        builder.Services.AddSingleton<IKeyValueStore>(provider =>
        {
            _ = provider.GetRequiredService<MemoryStore>(); // its gauges exist before the first request
            // The category predates the folder's name; log readers filter on it.
            var logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger("AotKvs.Durability");
            LogRecovery(logger, settings, recovered, memory.Count, recoveryTime);
            var log = new WriteAheadLog(dir, settings, memory, recovered, logger);
            DurabilityMetrics.Register(provider.GetRequiredService<IMeterFactory>(), log, recovered);
            return new DurableStore(memory, log, dir);
        });
        return builder;
    }

    private static void LogRecovery(ILogger logger, DurabilitySettings settings, RecoveryResult recovered, int keys, TimeSpan took)
    {
        logger.LogInformation("Data dir {Dir}: {Records} records recovered, {Keys} keys, in {Milliseconds} ms; sync={Sync}",
            settings.DataDir, recovered.Records, keys, (long)took.TotalMilliseconds, settings.Sync.ToString().ToLowerInvariant());
        if (recovered.Damage is not null)
            logger.LogWarning("Data dir {Dir}: {Damage}; {Bytes} bytes dropped, everything before kept",
                settings.DataDir, recovered.Damage, recovered.DroppedBytes);
    }
}
