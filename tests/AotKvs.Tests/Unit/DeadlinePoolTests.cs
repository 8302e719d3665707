using AotKvs.Forwarding.Client;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The forwarder's reused deadlines: each fires its timeout after it is rented, however often
/// it was used before; only one that never fired is used again, and the pool keeps a bounded
/// number of them.
/// </summary>
[Trait("Category", "Unit")]
public sealed class DeadlinePoolTests
{
    private static bool IsDisposed(CancellationTokenSource source)
    {
        try
        {
            _ = source.Token;
            return false;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    [Fact]
    public void A_deadline_fires_its_timeout_after_it_is_rented_again_and_again()
    {
        var pool = new DeadlinePool(TimeSpan.FromMilliseconds(100));
        Assert.Equal(TimeSpan.FromMilliseconds(100), pool.Timeout);
        var first = pool.Rent();
        pool.Return(first);

        var again = pool.Rent();

        Assert.Same(first, again);
        Assert.True(Poll.Until(() => again.IsCancellationRequested, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void A_longer_deadline_fires_its_extra_time_after_the_timeout_and_comes_from_the_same_pool()
    {
        var pool = new DeadlinePool(TimeSpan.FromMilliseconds(100));
        var plain = pool.Rent();
        pool.Return(plain);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var longer = pool.Rent(TimeSpan.FromMilliseconds(900));

        Assert.Same(plain, longer);
        Assert.True(Poll.Until(() => longer.IsCancellationRequested, TimeSpan.FromSeconds(20)));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(900), $"fired after {clock.Elapsed}"); // a timer never fires early by this much
        pool.Return(longer); // fired: closed, not reused
        Assert.NotSame(longer, pool.Rent());
    }

    [Fact]
    public void A_deadline_that_fired_is_closed_and_never_handed_out_again()
    {
        var pool = new DeadlinePool(TimeSpan.FromMinutes(5));
        var fired = pool.Rent();
        fired.Cancel();

        pool.Return(fired);

        Assert.True(IsDisposed(fired));
        var next = pool.Rent();
        Assert.NotSame(fired, next);
        Assert.False(next.IsCancellationRequested);
    }

    [Fact]
    public void A_returned_deadline_does_not_fire_while_it_waits_in_the_pool()
    {
        var pool = new DeadlinePool(TimeSpan.FromMilliseconds(50));
        var source = pool.Rent();
        pool.Return(source);

        Thread.Sleep(200); // well past the timeout it was rented with
        Assert.False(source.IsCancellationRequested);
        Assert.False(IsDisposed(source));
    }

    [Fact]
    public void The_pool_keeps_at_most_1024_deadlines()
    {
        var pool = new DeadlinePool(TimeSpan.FromMinutes(5));
        var sources = Enumerable.Range(0, 1025).Select(_ => pool.Rent()).ToList();

        foreach (var source in sources)
            pool.Return(source);

        Assert.False(IsDisposed(sources[1023]));
        Assert.True(IsDisposed(sources[1024]));
        foreach (var source in sources.Take(1024))
            Assert.Same(source, pool.Rent());
        Assert.DoesNotContain(pool.Rent(), sources);
    }
}
