using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.BlackBox;

/// <summary>
/// The lock recipe of docs/api.md section 8, run by 8 contenders spread over every target
/// (main, forwarders, chains): take with a create-only PUT with a lifetime, renew with
/// If-Match, release with a conditional DELETE, wait with Prefer: wait on the holder's tag.
/// Holders do unprotected read-then-write increments of a counter, so two holders at once
/// would lose increments; some holders vanish without releasing, and their lock must come
/// free by its deadline. The negative control takes the lock with a plain PUT and loses
/// increments.
/// </summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed class LockRecipeTests(Cluster cluster, ITestOutputHelper output)
{
    private IReadOnlyList<Uri> Targets => [.. Cluster.TargetNames.Select(name => cluster[name])];

    [Fact]
    public async Task One_holder_at_a_time_a_vanished_holder_frees_the_lock_by_its_deadline()
    {
        var run = await LockContest.RunAsync(Targets, createOnly: true, acquisitionsEach: 4, vanishings: 3);
        AssertOneHolderAtATime(run, vanishings: 3, output);
    }

    [Fact]
    public async Task Negative_control_a_lock_taken_with_a_plain_put_lets_holders_overlap()
    {
        var run = await LockContest.RunAsync(Targets, createOnly: false, acquisitionsEach: 4, vanishings: 0);
        output.WriteLine($"plain PUT as a lock: {run.Increments} increments, counter {run.Counter}: {run.Increments - run.Counter} lost");
        Assert.True(run.Counter < run.Increments, "holders never overlapped: the control shows nothing");
    }

    /// <summary>What the recipe promises: no lost increment, no lost lock, tags growing term by term, a vanished holder's lock free by its deadline (with a margin), and waiters woken by releases.</summary>
    internal static void AssertOneHolderAtATime(LockContest.Run run, int vanishings, ITestOutputHelper output)
    {
        output.WriteLine($"{run.Increments} increments, counter {run.Counter}; {run.Terms.Count} terms; lock free after a vanished holder within {run.FreedAfter.DefaultIfEmpty().Max().TotalMilliseconds:F0} ms of its deadline");
        output.WriteLine($"waiter woke after a release: {string.Join(", ", run.WokeAfter.Select(t => $"{t.TotalMilliseconds:F1}"))} ms");
        Assert.Equal(run.Increments, run.Counter); // no two holders at once
        Assert.Equal(0, run.LostLocks);
        // Fencing: every term's tag is newer than the one before it, whoever held it.
        var versions = run.Terms.OrderBy(t => t.Start).Select(t => LockContest.VersionOf(t.Tag)).ToList();
        Assert.Equal(versions.Order(), versions);
        Assert.Equal(vanishings, run.FreedAfter.Count);
        Assert.All(run.FreedAfter, after => Assert.True(after < TimeSpan.FromSeconds(3), $"free {after} after the deadline"));
        Assert.NotEmpty(run.WokeAfter);
    }
}
