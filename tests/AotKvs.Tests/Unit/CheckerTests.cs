using AotKvs.Storage.Memory;
using AotKvs.Tests.Linearizability;
using Xunit;
using static AotKvs.Tests.Linearizability.OpOutcome;

namespace AotKvs.Tests.Unit;

/// <summary>The checker itself: it must accept what is linearizable and reject what is not.</summary>
[Trait("Category", "Unit")]
public sealed class CheckerTests
{
    private const long Inf = Operation.Never;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(10);

    private static Operation Put(int c, long v, long from, long to, OpOutcome o, string key = "k") => new(c, OpKind.Put, key, v, from, to, o);
    private static Operation Get(int c, long from, long to, OpOutcome o, long v = 0, string key = "k") => new(c, OpKind.Get, key, v, from, to, o);
    private static Operation Del(int c, long from, long to, OpOutcome o, string key = "k") => new(c, OpKind.Delete, key, 0, from, to, o);

    private static Verdict Check(params Operation[] history)
    {
        var verdicts = LinearizabilityChecker.Check(history, Budget);
        return verdicts.Any(v => v.Verdict == Verdict.Violation) ? Verdict.Violation
            : verdicts.Any(v => v.Verdict == Verdict.OutOfBudget) ? Verdict.OutOfBudget
            : Verdict.Linearizable;
    }

    public static TheoryData<string, Operation[]> Linearizable => new()
    {
        { "sequential put, get, delete", [Put(1, 1, 0, 1, Created), Get(1, 2, 3, Found, 1), Del(1, 4, 5, Deleted), Get(1, 6, 7, NotFound)] },
        { "overlapping puts, either first", [Put(1, 1, 0, 10, Replaced), Put(2, 2, 1, 9, Created), Get(3, 11, 12, Found, 1)] },
        { "read overlapping a write sees old or new", [Put(1, 1, 0, 1, Created), Put(2, 2, 2, 10, Replaced), Get(3, 3, 4, Found, 1), Get(4, 5, 6, Found, 2)] },
        { "unanswered put may have happened", [Put(1, 1, 0, Inf, Unknown), Get(2, 5, 6, Found, 1)] },
        { "unanswered put may not have happened", [Put(1, 1, 0, Inf, Unknown), Get(2, 5, 6, NotFound)] },
        { "unanswered put may happen late", [Put(1, 1, 0, Inf, Unknown), Get(2, 5, 6, NotFound), Get(2, 7, 8, Found, 1)] },
        { "restart empties the store", [Put(1, 1, 0, 1, Created), Operation.Restart(2, 3), Get(1, 4, 5, NotFound), Put(1, 2, 6, 7, Created)] },
        { "read during a restart window sees either side", [Put(1, 1, 0, 1, Created), Operation.Restart(2, 10), Get(2, 3, 4, Found, 1), Get(2, 5, 6, NotFound)] },
        { "keys are independent", [Put(1, 1, 0, 1, Created, "a"), Put(1, 2, 2, 3, Created, "b"), Get(2, 4, 5, Found, 1, "a")] },
        { "unanswered put nobody read makes the key present", [Put(1, 1, 0, Inf, Unknown), Put(2, 2, 5, 6, Replaced)] },
        { "unanswered delete may act late", [Put(1, 1, 0, 1, Created), Del(2, 2, Inf, Unknown), Get(1, 3, 4, Found, 1), Get(1, 5, 6, NotFound)] },
        { "two unanswered puts bring a key back twice", [Put(1, 1, 0, Inf, Unknown), Put(2, 2, 0, Inf, Unknown), Del(3, 1, 2, Deleted), Del(3, 3, 4, Deleted)] },
        { "read of an unanswered put pins it before the read", [Put(1, 1, 0, 1, Created), Put(2, 2, 2, Inf, Unknown), Get(3, 3, 4, Found, 2), Put(3, 3, 5, 6, Replaced)] },
    };

    public static TheoryData<string, Operation[]> NotLinearizable => new()
    {
        { "two creates of one key", [Put(1, 1, 0, 5, Created), Put(2, 2, 1, 6, Created)] },
        { "stale read after a completed write", [Put(1, 1, 0, 1, Created), Put(1, 2, 2, 3, Replaced), Get(2, 4, 5, Found, 1)] },
        { "read of a value never written", [Put(1, 1, 0, 1, Created), Get(2, 2, 3, Found, 7)] },
        { "replaced on an empty store", [Put(1, 1, 0, 1, Replaced)] },
        { "deleted twice", [Put(1, 1, 0, 1, Created), Del(1, 2, 5, Deleted), Del(2, 3, 6, Deleted)] },
        { "read goes back in time", [Put(1, 1, 0, 1, Created), Put(1, 2, 2, 10, Replaced), Get(2, 3, 4, Found, 2), Get(3, 5, 6, Found, 1)] },
        { "data survives a restart", [Put(1, 1, 0, 1, Created), Operation.Restart(2, 3), Get(1, 4, 5, Found, 1)] },
        { "unanswered put cannot act before it was sent", [Get(2, 0, 1, Found, 1), Put(1, 1, 2, Inf, Unknown)] },
        { "write lost without a restart", [Put(1, 1, 0, 1, Created), Get(2, 2, 3, NotFound)] },
        { "one unanswered put cannot bring a key back twice", [Put(1, 1, 0, Inf, Unknown), Del(3, 1, 2, Deleted), Del(3, 3, 4, Deleted)] },
        { "an unanswered put read once acts once", [Put(1, 1, 0, Inf, Unknown), Get(2, 1, 2, Found, 1), Del(2, 3, 4, Deleted), Get(2, 5, 6, Found, 1)] },
        { "unanswered delete cannot act before it was sent", [Put(1, 1, 0, 1, Created), Get(2, 2, 3, NotFound), Del(1, 4, Inf, Unknown)] },
        { "GET answered created", [Get(1, 0, 1, Created)] },
        { "GET answered deleted", [Put(1, 1, 0, 1, Created), Get(1, 2, 3, Deleted)] },
        { "DELETE answered replaced", [Put(1, 1, 0, 1, Created), Del(1, 2, 3, Replaced)] },
        { "PUT answered deleted", [Put(1, 1, 0, 1, Deleted)] },
        { "PUT answered found", [Put(1, 1, 0, 1, Found)] },
        { "DELETE answered found", [Put(1, 1, 0, 1, Created), Del(1, 2, 3, Found)] },
    };

    [Theory, MemberData(nameof(Linearizable))]
    public void Accepts_linearizable_history(string name, Operation[] history) =>
        Assert.True(Check(history) == Verdict.Linearizable, name);

    [Theory, MemberData(nameof(NotLinearizable))]
    public void Rejects_non_linearizable_history(string name, Operation[] history) =>
        Assert.True(Check(history) == Verdict.Violation, name);

    /// <summary>Many overlapping PUTs of one key: the set of configurations grows with each.</summary>
    private static Operation[] Crowd(int puts) =>
        [.. Enumerable.Range(0, puts).Select(i => Put(i, i + 1, i, 1000 + i, i == 0 ? Created : Replaced))];

    [Fact]
    public void Running_out_of_memory_budget_is_a_verdict_naming_key_and_reason()
    {
        var limits = new CheckLimits(TimeSpan.FromSeconds(10), MemoryPerKey: 50 * CheckLimits.BytesPerConfiguration);
        var verdict = Assert.Single(LinearizabilityChecker.Check(Crowd(20), limits));
        Assert.Equal(Verdict.OutOfBudget, verdict.Verdict);
        Assert.Equal("k", verdict.Key);
        Assert.Contains("memory budget", verdict.Reason);
        Assert.Contains("key k: OutOfBudget (memory budget", LinearizabilityReport.Describe(verdict));
    }

    [Fact]
    public void Running_out_of_time_is_a_verdict()
    {
        var verdict = Assert.Single(LinearizabilityChecker.Check(Crowd(20), CheckLimits.Default with { TimePerKey = TimeSpan.Zero }));
        Assert.Equal(Verdict.OutOfBudget, verdict.Verdict);
        Assert.Contains("time budget", verdict.Reason);
    }

    [Fact]
    public void More_open_operations_than_the_checker_tracks_is_a_verdict()
    {
        // Reads of a value not yet written: none can take effect, so the set stays small.
        Operation[] waiting = [.. Enumerable.Range(0, Frontier.MaxOpen + 1).Select(i => Get(i, i, 1000 + i, Found, 99)), Put(99, 99, 500, 501, Created)];
        var verdict = Assert.Single(LinearizabilityChecker.Check(waiting, CheckLimits.Default));
        Assert.Equal(Verdict.OutOfBudget, verdict.Verdict);
        Assert.Contains("open at once", verdict.Reason);
    }

    [Fact]
    public void A_value_written_twice_is_refused() =>
        Assert.Throws<InvalidDataException>(() => LinearizabilityChecker.Check([Put(1, 1, 0, 1, Created), Put(2, 1, 2, 3, Replaced)], Budget));

    [Fact]
    public void A_crowd_within_budget_is_decided()
    {
        var verdict = Assert.Single(LinearizabilityChecker.Check(Crowd(10), CheckLimits.Default));
        Assert.Equal(Verdict.Linearizable, verdict.Verdict);
    }

    [Fact]
    public async Task Catches_a_check_then_set_store_under_the_workload()
    {
        var broken = new CheckThenSetStore();
        var workload = new Workload(new WorkloadPlan(8, 3, TimeSpan.FromSeconds(2), 400, TimeSpan.FromSeconds(1)), _ => [broken]);
        await workload.RunAsync();
        var verdicts = LinearizabilityChecker.Check(workload.History, Budget);
        Assert.Contains(verdicts, v => v.Verdict == Verdict.Violation);
    }

    [Fact]
    public async Task Passes_the_service_store_under_the_workload()
    {
        var store = new MemoryStore();
        var workload = new Workload(new WorkloadPlan(8, 3, TimeSpan.FromSeconds(2), 2000, TimeSpan.FromSeconds(1)), _ => [new StoreTarget(store)]);
        await workload.RunAsync();
        var verdicts = LinearizabilityChecker.Check(workload.History, Budget);
        Assert.All(verdicts, v => Assert.Equal(Verdict.Linearizable, v.Verdict));
        Assert.True(workload.History.Count > 1000, $"only {workload.History.Count} operations");
    }
}
