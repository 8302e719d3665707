using System.Diagnostics;
using AotKvs.Forwarding.Pipelining;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// When pipelining pauses: a few slow gaps between a batch's answers in a row, never one
/// slow gap among quick ones, and at once when told; a pause lasts its length and no longer.
/// The gaps are given as timestamps, so no test waits for them.
/// </summary>
[Trait("Category", "Unit")]
public sealed class SlowMainWatchTests
{
    /// <summary>The slowest gap that still counts as quick (500 µs).</summary>
    private static readonly long Quick = Stopwatch.Frequency / 2000;

    private static void Gaps(SlowMainWatch watch, params long[] gaps)
    {
        foreach (var gap in gaps)
            watch.NoteGap(1_000, 1_000 + gap);
    }

    private static SlowMainWatch Watch(TimeSpan? pause = null) => new(pause ?? TimeSpan.FromMinutes(5));

    [Fact]
    public void Four_slow_gaps_in_a_row_pause_and_three_do_not()
    {
        var watch = Watch();
        Gaps(watch, Quick + 1, Quick + 1, Quick + 1);
        Assert.False(watch.IsPaused);

        Gaps(watch, Quick + 1);

        Assert.True(watch.IsPaused);
    }

    [Fact]
    public void A_gap_of_exactly_the_quick_bound_is_quick()
    {
        var watch = Watch();
        Gaps(watch, Quick, Quick, Quick, Quick, Quick, Quick);
        Assert.False(watch.IsPaused);
    }

    [Fact]
    public void A_quick_gap_among_slow_ones_takes_one_off_the_score()
    {
        var watch = Watch();
        Gaps(watch, Quick + 1, Quick + 1, Quick + 1, 0, Quick + 1);
        Assert.False(watch.IsPaused); // 4 + 4 + 4 - 1 + 4 = 15

        Gaps(watch, Quick + 1);
        Assert.True(watch.IsPaused);
    }

    [Fact]
    public void Quick_gaps_never_bank_credit_against_later_slow_ones()
    {
        var watch = Watch();
        Gaps(watch, 0, 0, 0, 0, 0);
        Gaps(watch, Quick + 1, Quick + 1, Quick + 1, Quick + 1);
        Assert.True(watch.IsPaused);
    }

    [Fact]
    public void Pausing_starts_the_count_again()
    {
        var watch = Watch(TimeSpan.Zero); // a pause that is over at once
        Gaps(watch, Quick + 1, Quick + 1, Quick + 1);

        watch.PauseNow();
        Gaps(watch, Quick + 1, Quick + 1, Quick + 1);

        Assert.False(watch.IsPaused);
    }

    [Fact]
    public void A_pause_lasts_its_length()
    {
        var watch = Watch(TimeSpan.FromMilliseconds(200));
        Assert.False(watch.IsPaused);
        var clock = Stopwatch.StartNew();

        watch.PauseNow();

        Assert.True(watch.IsPaused || clock.Elapsed >= TimeSpan.FromMilliseconds(200));
        Assert.True(Poll.Until(() => !watch.IsPaused, TimeSpan.FromSeconds(10)));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(200), $"over after {clock.Elapsed}");
    }

    [Fact]
    public void After_a_pause_is_over_the_slow_gaps_before_it_count_for_nothing()
    {
        var watch = Watch(TimeSpan.FromMilliseconds(100));
        Gaps(watch, Quick + 1, Quick + 1, Quick + 1);
        watch.PauseNow();
        Assert.True(Poll.Until(() => !watch.IsPaused, TimeSpan.FromSeconds(10)));

        Gaps(watch, Quick + 1, Quick + 1, Quick + 1);

        Assert.False(watch.IsPaused); // three slow gaps since the pause, not six
    }
}
