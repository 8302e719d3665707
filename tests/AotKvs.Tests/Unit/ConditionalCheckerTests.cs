using AotKvs.Storage;
using AotKvs.Storage.Memory;
using AotKvs.Tests.Linearizability;
using Xunit;
using Xunit.Abstractions;
using static AotKvs.Tests.Linearizability.OpOutcome;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The checker on conditional writes and tags: compare-and-set histories it must accept and
/// reject, a store that checks the tag and writes in a second step (caught), and the
/// service's memory store (passed).
/// </summary>
[Trait("Category", "Unit")]
public sealed class ConditionalCheckerTests(ITestOutputHelper output)
{
    private const long Inf = Operation.Never;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(10);

    private static string T(long v) => $"\"s-{v}\"";

    /// <summary>A PUT of <paramref name="v"/>; <paramref name="tag"/>: its answer's ETag (by default the tag of v when it applied).</summary>
    private static Operation Put(int c, long v, long from, long to, OpOutcome o, string? ifMatch = null, string? ifNoneMatch = null, string? tag = "") =>
        new(c, OpKind.Put, "k", v, from, to, o, ifMatch, ifNoneMatch, tag == "" ? o is Created or Replaced ? T(v) : null : tag);

    private static Operation Get(int c, long from, long to, OpOutcome o, long v = 0) =>
        new(c, OpKind.Get, "k", v, from, to, o, Tag: o == Found ? T(v) : null);

    private static Operation Del(int c, long from, long to, OpOutcome o, string? ifMatch = null, string? tag = null) =>
        new(c, OpKind.Delete, "k", 0, from, to, o, ifMatch, null, tag);

    private static KeyVerdict Check(params Operation[] history) => Assert.Single(LinearizabilityChecker.Check(history, Budget));

    public static TheoryData<string, Operation[]> Linearizable => new()
    {
        { "a compare-and-set chain", [Put(1, 1, 0, 1, Created), Get(2, 2, 3, Found, 1), Put(2, 2, 4, 5, Replaced, T(1)), Put(3, 3, 6, 7, PreconditionFailed, T(1), tag: T(2))] },
        { "two writes with one tag: one wins, one gets 412", [Put(1, 1, 0, 1, Created), Put(2, 2, 10, 20, Replaced, T(1)), Put(3, 3, 11, 19, PreconditionFailed, T(1), tag: T(2))] },
        { "create-only, then 412 with the tag", [Put(1, 1, 0, 1, Created, ifNoneMatch: "*"), Put(2, 2, 2, 3, PreconditionFailed, ifNoneMatch: "*", tag: T(1))] },
        { "412 on an absent key has no tag", [Put(1, 1, 0, 1, PreconditionFailed, T(9), tag: null), Put(1, 2, 2, 3, PreconditionFailed, "*", tag: null)] },
        { "a conditional delete, then not found whatever the condition", [Put(1, 1, 0, 1, Created), Del(1, 2, 3, Deleted, T(1)), Del(1, 4, 5, NotFound, T(1))] },
        { "If-Match: * replaces whatever is there", [Put(1, 1, 0, 1, Created), Put(1, 2, 2, 3, Replaced, "*")] },
        { "an unanswered conditional write may never act", [Put(1, 1, 0, 1, Created), Put(2, 2, 2, Inf, Unknown, T(1)), Get(1, 5, 6, Found, 1)] },
        { "an unanswered conditional write may act, tag unseen", [Put(1, 1, 0, 1, Created), Put(2, 2, 2, Inf, Unknown, T(1)), Put(3, 3, 5, 6, PreconditionFailed, T(1), tag: "\"s-x\"")] },
        { "an unanswered plain write explains a later 412", [Put(1, 1, 0, 1, Created), Put(2, 2, 2, Inf, Unknown), Put(3, 3, 5, 6, PreconditionFailed, T(1), tag: "\"s-y\"")] },
        { "a weak tag never matches in If-Match", [Put(1, 1, 0, 1, Created), Put(1, 2, 2, 3, PreconditionFailed, "W/" + T(1), tag: T(1))] },
        { "a weak tag matches in If-None-Match", [Put(1, 1, 0, 1, Created), Put(1, 2, 2, 3, PreconditionFailed, ifNoneMatch: "W/" + T(1), tag: T(1))] },
        { "a read overlapping a compare-and-set sees either", [Put(1, 1, 0, 1, Created), Put(2, 2, 2, 10, Replaced, T(1)), Get(3, 3, 4, Found, 1), Get(3, 5, 6, Found, 2)] },
    };

    public static TheoryData<string, Operation[]> Violations => new()
    {
        { "a lost update: two writes with one tag both succeed", [Put(1, 1, 0, 1, Created), Put(2, 2, 10, 20, Replaced, T(1)), Put(3, 3, 11, 19, Replaced, T(1))] },
        { "create-only replaced a value", [Put(1, 1, 0, 1, Created), Put(2, 2, 2, 3, Replaced, ifNoneMatch: "*")] },
        { "412 although the tag was current", [Put(1, 1, 0, 1, Created), Put(2, 2, 2, 3, PreconditionFailed, T(1), tag: T(1))] },
        { "applied with a stale tag", [Put(1, 1, 0, 1, Created), Put(1, 2, 2, 3, Replaced), Put(2, 3, 4, 5, Replaced, T(1))] },
        { "a stale tag deleted the key", [Put(1, 1, 0, 1, Created), Put(1, 2, 2, 3, Replaced), Del(2, 4, 5, Deleted, T(1))] },
        { "412 names a value no longer current", [Put(1, 1, 0, 1, Created), Put(1, 2, 2, 3, Replaced), Put(2, 3, 4, 5, PreconditionFailed, "\"s-z\"", tag: T(1))] },
        { "412 without a tag on a present key", [Put(1, 1, 0, 1, Created), Put(2, 2, 2, 3, PreconditionFailed, "\"s-z\"", tag: null)] },
        { "412 to a delete of an absent key", [Del(1, 0, 1, PreconditionFailed, T(1))] },
        { "one tag for two values", [Put(1, 1, 0, 1, Created, tag: "\"s-same\""), Put(1, 2, 2, 3, Replaced, tag: "\"s-same\"")] },
        { "two tags for one value", [Put(1, 1, 0, 1, Created), Get(1, 2, 3, Found, 1) with { Tag = "\"s-other\"" }] },
        { "a 412 to a write without a precondition", [Put(1, 1, 0, 1, PreconditionFailed)] },
    };

    [Theory, MemberData(nameof(Linearizable))]
    public void Accepts(string name, Operation[] history)
    {
        var verdict = Check(history);
        Assert.True(verdict.Verdict == Verdict.Linearizable, $"{name}: {LinearizabilityReport.Describe(verdict)}");
    }

    [Theory, MemberData(nameof(Violations))]
    public void Rejects(string name, Operation[] history)
    {
        var verdict = Check(history);
        Assert.True(verdict.Verdict == Verdict.Violation, $"{name}: {verdict.Verdict}");
        Assert.NotEmpty(verdict.Window);
    }

    /// <summary>The negative control: the check and the write one yield apart lose updates, and the checker says so.</summary>
    [Fact]
    public async Task Catches_a_store_that_checks_the_tag_and_writes_in_a_second_step()
    {
        var broken = new CheckThenWriteStore();
        var workload = new Workload(new WorkloadPlan(8, 2, TimeSpan.FromSeconds(3), 2000, TimeSpan.FromSeconds(1), Conditional: true), _ => [broken]);
        await workload.RunAsync();

        var verdicts = LinearizabilityChecker.Check(workload.History, Budget);

        foreach (var bad in verdicts.Where(v => v.Verdict != Verdict.Linearizable))
            output.WriteLine(LinearizabilityReport.Describe(bad));
        Assert.Contains(verdicts, v => v.Verdict == Verdict.Violation);
        Assert.DoesNotContain(verdicts, v => v.Verdict == Verdict.OutOfBudget);
        Assert.Empty(workload.Anomalies);
    }

    /// <summary>The same workload against the service's memory store, whose check and change are one step: linearizable.</summary>
    [Fact]
    public async Task Passes_the_memory_store_with_conditional_writes()
    {
        var store = new MemoryStore();
        var workload = new Workload(new WorkloadPlan(8, 2, TimeSpan.FromSeconds(3), 2000, TimeSpan.FromSeconds(1), Conditional: true), _ => [new StoreTarget(store)]);
        await workload.RunAsync();

        var history = workload.History;
        var verdicts = LinearizabilityChecker.Check(history, Budget);

        output.WriteLine(LinearizabilityReport.Write(history, verdicts, workload.Anomalies, [], TimeSpan.Zero));
        Assert.All(verdicts, v => Assert.True(v.Verdict == Verdict.Linearizable, LinearizabilityReport.Describe(v)));
        Assert.Empty(workload.Anomalies);
        // The run did exercise compare-and-set: applied and refused conditional writes, and tags read back.
        Assert.Contains(history, op => op.IsConditional && op.Outcome is Created or Replaced or Deleted);
        Assert.Contains(history, op => op.Outcome == PreconditionFailed && op.Tag is not null);
        Assert.Contains(history, op => op.Kind == OpKind.Get && op.Tag is not null);
    }

    [Fact]
    public void Conditions_and_tags_survive_a_history_file()
    {
        var history = Violations.Concat(Linearizable).SelectMany(row => (Operation[])row[1]).ToList();
        var path = Path.GetTempFileName();
        try
        {
            HistoryFile.Write(path, history);
            Assert.Equal(history, HistoryFile.Read(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void In_process_tags_name_versions_of_their_own_scope_only()
    {
        Assert.Equal("\"ab-1f\"", StoreTags.Format("ab", 0x1f));
        Assert.Null(StoreTags.Format("ab", 0));
        Assert.Equal([0x1fUL], StoreTags.Read("ab", new WriteCondition(IfMatch: "\"ab-1f\"")).IfMatch.Versions.ToArray());
        Assert.True(StoreTags.Read("ab", new WriteCondition(IfMatch: "*")).IfMatch.Any);
        Assert.Empty(StoreTags.Read("ab", new WriteCondition(IfMatch: "\"cd-1f\"")).IfMatch.Versions.ToArray());
        Assert.Empty(StoreTags.Read("ab", new WriteCondition(IfMatch: "W/\"ab-1f\"")).IfMatch.Versions.ToArray());
        Assert.Equal([0x1fUL], StoreTags.Read("ab", new WriteCondition(IfNoneMatch: "W/\"ab-1f\"")).IfNoneMatch.Versions.ToArray());
        Assert.True(StoreTags.Read("ab", WriteCondition.None).IsNone);
        Assert.Equal(PreconditionResult.IfMatchFailed, StoreTags.Read("ab", new WriteCondition(IfMatch: "\"ab-\"")).Evaluate(1));
    }
}
