using System.Diagnostics;

namespace AotKvs.Forwarding.Pipelining;

/// <summary>
/// Says when pipelining should pause: main answers a batch one request after another, so
/// batching only pays while each answer is quick. Answers within a batch that come far apart
/// (a store that waits on a disk or a cluster per request), or a pipelined request that runs
/// out of time, pause it; requests then go one per connection for a while.
/// </summary>
internal sealed class SlowMainWatch(TimeSpan pause)
{
    /// <summary>Answers further apart than this mean main is slow per request (when quick, it takes a few µs).</summary>
    private static readonly long SlowAnswerGap = Stopwatch.Frequency / 2000; // 500 µs

    /// <summary>A slow gap scores this much, a quick one takes 1 off; pipelining pauses at <see cref="PauseScore"/>.</summary>
    private const int SlowGapScore = 4, PauseScore = 16;

    private readonly long _pause = (long)(pause.TotalSeconds * Stopwatch.Frequency);
    private int _score;
    private long _pausedUntil;

    public bool IsPaused => Stopwatch.GetTimestamp() < Volatile.Read(ref _pausedUntil);

    /// <summary>
    /// An answer was read at <paramref name="now"/>; the one before it in its batch at
    /// <paramref name="previous"/>. A few slow gaps in a row pause; one among quick ones
    /// (main preempted for a moment) does not.
    /// </summary>
    public void NoteGap(long previous, long now)
    {
        if (now - previous > SlowAnswerGap)
        {
            if (Interlocked.Add(ref _score, SlowGapScore) >= PauseScore)
                PauseNow();
        }
        else if (Volatile.Read(ref _score) > 0)
        {
            Interlocked.Decrement(ref _score);
        }
    }

    public void PauseNow()
    {
        Volatile.Write(ref _pausedUntil, Stopwatch.GetTimestamp() + _pause);
        Volatile.Write(ref _score, 0);
    }
}
