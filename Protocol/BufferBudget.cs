namespace AotKvs.Protocol;

/// <summary>
/// The bytes all connections together may hold in buffers of ours at one moment: request
/// bodies being read (main and forwarder) and main's answers a forwarder holds before
/// relaying them. One body is already bounded by the body limit, but a few hundred clients
/// each sending a large body slowly would hold that limit each; past this total, a request
/// is refused (503, connection closed) instead of being buffered.
/// </summary>
internal sealed class BufferBudget(long limit, ILogger? logger = null)
{
    /// <summary>No limit: for tests that build a forwarder by hand.</summary>
    public static BufferBudget Unlimited { get; } = new(long.MaxValue);

    /// <summary>At most one log line per this interval, however many requests are refused.</summary>
    private static readonly long LogIntervalTicks = TimeSpan.FromSeconds(10).Ticks;

    private long _inUse;
    private long _refused;
    private long _refusedAtLastLog;
    private long _lastLogTicks = long.MinValue / 2;

    public long Limit { get; } = limit;

    /// <summary>Told of each refusal (the metrics count them).</summary>
    public Action? Refusing { get; set; }

    /// <summary>Bytes reserved now.</summary>
    public long InUse => Volatile.Read(ref _inUse);

    /// <summary>Requests refused since start because the budget was spent.</summary>
    public long Refused => Volatile.Read(ref _refused);

    /// <summary>Reserves <paramref name="bytes"/>, or reserves nothing and returns false when they would not fit.</summary>
    public bool TryReserve(long bytes)
    {
        if (Interlocked.Add(ref _inUse, bytes) <= Limit)
            return true;
        Interlocked.Add(ref _inUse, -bytes);
        Interlocked.Increment(ref _refused);
        Refusing?.Invoke();
        LogRefusals(bytes);
        return false;
    }

    /// <summary>Reserves <paramref name="bytes"/> whether or not they fit (counted, never refused).</summary>
    public void ReserveAnyway(long bytes) => Interlocked.Add(ref _inUse, bytes);

    public void Release(long bytes)
    {
        if (bytes > 0)
            Interlocked.Add(ref _inUse, -bytes);
    }

    /// <summary>A flood of refusals makes one line per interval, with how many there were.</summary>
    private void LogRefusals(long bytes)
    {
        if (logger is null)
            return;
        var now = Environment.TickCount64 * TimeSpan.TicksPerMillisecond;
        var last = Volatile.Read(ref _lastLogTicks);
        if (now - last < LogIntervalTicks || Interlocked.CompareExchange(ref _lastLogTicks, now, last) != last)
            return;
        var refused = Refused;
        var since = refused - Interlocked.Exchange(ref _refusedAtLastLog, refused);
        logger.LogWarning("Buffer limit reached: refused {Refused} request(s) with 503 since the last such line (this one needed {Bytes} bytes; {InUse} of {Limit} bytes in use)",
            since, bytes, InUse, Limit);
    }
}
