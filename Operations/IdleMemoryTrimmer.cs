namespace AotKvs.Operations;

/// <summary>
/// Gives memory back once a burst is over. The garbage collector returns free memory to the
/// system only when it runs, and it runs only when something allocates, so an instance that
/// goes idle after a burst would keep its peak forever. Every few seconds this looks at how
/// much was allocated since the last look: busy, it does nothing; idle after activity, it
/// runs one compacting collection that decommits what is free. It runs again only after
/// another spell of activity, so an idle instance stays idle.
/// </summary>
internal sealed class IdleMemoryTrimmer : BackgroundService
{
    /// <summary>How often allocation is looked at.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    /// <summary>Less than this allocated in one interval counts as idle (the scrapes and probes of a quiet instance).</summary>
    public const long IdleBytes = 512 * 1024;

    /// <summary>More than this allocated since the last trim makes another trim worth it.</summary>
    public const long ActivityBytes = 16 * 1024 * 1024;

    private long _lastSeen = GC.GetTotalAllocatedBytes();
    private long _atLastTrim = GC.GetTotalAllocatedBytes();

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
                Look();
        }
        catch (OperationCanceledException)
        {
            // stopping, or start-up failed (a taken port): nothing to report
        }
    }

    /// <summary>One look: trims if this interval was idle and enough happened since the last trim.</summary>
    private void Look()
    {
        var allocated = GC.GetTotalAllocatedBytes();
        var idle = allocated - _lastSeen < IdleBytes;
        _lastSeen = allocated;
        if (!idle || allocated - _atLastTrim < ActivityBytes)
            return;

        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        _atLastTrim = _lastSeen = GC.GetTotalAllocatedBytes();
    }
}
