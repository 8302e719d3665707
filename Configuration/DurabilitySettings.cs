namespace AotKvs.Configuration;

/// <summary>When a change is on disk before main answers it.</summary>
internal enum SyncMode
{
    /// <summary>fsync before the answer: survives a power cut.</summary>
    Always,

    /// <summary>write before the answer, fsync within the interval: survives a process crash.</summary>
    Periodic,
}

/// <summary>Where and how main keeps its data on disk; absent (null) without a data dir.</summary>
internal sealed record DurabilitySettings(string DataDir, SyncMode Sync, TimeSpan SyncInterval, long CompactMinBytes)
{
    public static DurabilitySettings? Load(IConfiguration config)
    {
        // The sync settings are checked even without a data dir, so a typo never waits to matter.
        var sync = Settings.Sync.Read(config);
        var interval = TimeSpan.FromMilliseconds(Settings.SyncIntervalMs.Read(config));
        var compactMinBytes = Settings.CompactMinBytes.Read(config);
        if (Settings.DataDir.Read(config) is not { } dir)
            return null;
        // A forwarder keeps no data: a data dir there is a mistake worth stopping for.
        if (Settings.ForwardingAddress.Read(config) is not null)
            throw new InvalidSettingException($"{Settings.DataDir.Variable} '{dir}' is for main; a forwarder (FORWARDING_ADDRESS set) keeps no data");
        return new(Path.GetFullPath(dir), sync, interval, compactMinBytes);
    }
}
