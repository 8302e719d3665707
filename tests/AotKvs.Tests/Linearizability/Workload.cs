using System.Collections.Concurrent;
using System.Diagnostics;

namespace AotKvs.Tests.Linearizability;

/// <summary>
/// Shape of a run: clients, keys, and bounds in time and count. <see cref="Conditional"/>:
/// most writes carry a precondition built from the last tag the client saw for the key.
/// </summary>
public sealed record WorkloadPlan(int Clients, int Keys, TimeSpan Duration, int MaxOpsPerClient, TimeSpan OpTimeout, int Seed = 1,
    bool Conditional = false)
{
    // One string per key, shared by all its operations: a long history holds millions.
    private readonly string[] _keyNames = [.. Enumerable.Range(0, Keys).Select(i => $"lin-{Seed}-{i}")];

    public string KeyName(int i) => _keyNames[i];
}

/// <summary>
/// Concurrent clients issuing PUT/GET/DELETE over a few keys, so they collide, each against
/// a target picked at random per operation, recording invocation, completion and result.
/// Every PUT writes a value unique to the run (client × sequence). In a conditional run a
/// client remembers, per key, the tag of its last answer (or that the key was absent) and
/// makes most writes compare-and-set on it: If-Match with that tag, If-None-Match: * when it
/// saw the key absent, now and then If-Match: * or a tag that was never handed out.
/// </summary>
public sealed class Workload(WorkloadPlan plan, Func<int, IReadOnlyList<IKvsTarget>> targetsForClient)
{
    private readonly ConcurrentQueue<Operation> _history = new();
    private readonly List<Operation> _recorded = [];
    private readonly ConcurrentQueue<string> _anomalies = new();

    /// <summary>Ticks on the clock every operation and fault is timed with.</summary>
    public static long Now => Stopwatch.GetTimestamp();

    public void Record(Operation op) => _history.Enqueue(op);

    /// <summary>
    /// Everything recorded so far. Moved out of the queue rather than copied, so a long run
    /// holds its operations once; what is recorded later is added on the next call.
    /// </summary>
    public IReadOnlyList<Operation> History
    {
        get
        {
            lock (_recorded)
            {
                _recorded.EnsureCapacity(_recorded.Count + _history.Count);
                while (_history.TryDequeue(out var op))
                    _recorded.Add(op);
                return _recorded;
            }
        }
    }

    /// <summary>Answers outside the SPEC, e.g. a 500; a correct run has none.</summary>
    public IReadOnlyList<string> Anomalies => [.. _anomalies];

    public async Task RunAsync(CancellationToken stop = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stop);
        deadline.CancelAfter(plan.Duration);
        await Task.WhenAll(Enumerable.Range(0, plan.Clients).Select(c => Task.Run(() => ClientAsync(c, deadline.Token))));
    }

    private async Task ClientAsync(int client, CancellationToken stop)
    {
        var random = new Random(plan.Seed * 1000 + client);
        var targets = targetsForClient(client);
        var lastTags = new Dictionary<string, string?>(); // a key's last tag seen; null: seen absent
        try
        {
            for (var seq = 1; seq <= plan.MaxOpsPerClient && !stop.IsCancellationRequested; seq++)
            {
                var target = targets[random.Next(targets.Count)];
                var key = plan.KeyName(random.Next(plan.Keys));
                var roll = random.Next(10);
                var kind = roll < 4 ? OpKind.Put : roll < 8 ? OpKind.Get : OpKind.Delete;
                var value = (long)client * 10_000_000 + seq;
                var condition = plan.Conditional && kind != OpKind.Get ? Condition(random, lastTags, key) : WriteCondition.None;

                using var timeout = new CancellationTokenSource(plan.OpTimeout);
                var invoke = Now;
                Reply reply;
                try
                {
                    reply = kind switch
                    {
                        OpKind.Put => await target.PutAsync(key, value, condition, timeout.Token),
                        OpKind.Get => await target.GetAsync(key, timeout.Token),
                        _ => await target.DeleteAsync(key, condition, timeout.Token),
                    };
                }
                catch (OperationCanceledException)
                {
                    reply = new Reply(OpOutcome.Unknown);
                }
                var complete = Now;

                if (reply.Anomaly is { } anomaly)
                    _anomalies.Enqueue($"{target.Name} {kind} {key}: {anomaly}");
                if (reply.NeverSent)
                {
                    await Task.Delay(20, CancellationToken.None); // the instance is down; do not spin
                    continue;
                }
                var unknown = reply.Outcome == OpOutcome.Unknown;
                Record(new Operation(client, kind, key, kind == OpKind.Put ? value : reply.Value,
                    invoke, unknown ? Operation.Never : complete, reply.Outcome, condition.IfMatch, condition.IfNoneMatch, reply.Tag));
                Remember(lastTags, key, reply);
                if (unknown)
                    await Task.Delay(50, CancellationToken.None); // few unanswered operations keep the search small
            }
        }
        finally
        {
            foreach (var target in targets)
                target.Dispose();
        }
    }

    /// <summary>A write's precondition from what the client last saw of the key; one in four writes carries none.</summary>
    private static WriteCondition Condition(Random random, Dictionary<string, string?> lastTags, string key)
    {
        var roll = random.Next(20);
        if (roll < 5)
            return WriteCondition.None;
        if (roll == 5)
            return new WriteCondition(IfMatch: "*");
        if (roll == 6)
            return new WriteCondition(IfMatch: "\"never-handed-out\"");
        return lastTags.TryGetValue(key, out var tag)
            ? tag is null ? new WriteCondition(IfNoneMatch: "*") : new WriteCondition(IfMatch: tag)
            : new WriteCondition(IfNoneMatch: "*");
    }

    /// <summary>What an answer says the key holds now: its tag, absent, or (no answer) nothing known.</summary>
    private static void Remember(Dictionary<string, string?> lastTags, string key, Reply reply)
    {
        switch (reply.Outcome)
        {
            case OpOutcome.Found or OpOutcome.Created or OpOutcome.Replaced or OpOutcome.PreconditionFailed:
                lastTags[key] = reply.Tag;
                break;
            case OpOutcome.Deleted or OpOutcome.NotFound:
                lastTags[key] = null;
                break;
            default:
                lastTags.Remove(key);
                break;
        }
    }
}
