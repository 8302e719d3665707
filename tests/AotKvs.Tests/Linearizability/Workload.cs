using System.Collections.Concurrent;
using System.Diagnostics;

namespace AotKvs.Tests.Linearizability;

/// <summary>Shape of a run: clients, keys, and bounds in time and count.</summary>
public sealed record WorkloadPlan(int Clients, int Keys, TimeSpan Duration, int MaxOpsPerClient, TimeSpan OpTimeout, int Seed = 1)
{
    // One string per key, shared by all its operations: a long history holds millions.
    private readonly string[] _keyNames = [.. Enumerable.Range(0, Keys).Select(i => $"lin-{Seed}-{i}")];

    public string KeyName(int i) => _keyNames[i];
}

/// <summary>
/// Concurrent clients issuing PUT/GET/DELETE over a few keys, so they collide, each against
/// a target picked at random per operation, recording invocation, completion and result.
/// Every PUT writes a value unique to the run (client × sequence).
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
        try
        {
            for (var seq = 1; seq <= plan.MaxOpsPerClient && !stop.IsCancellationRequested; seq++)
            {
                var target = targets[random.Next(targets.Count)];
                var key = plan.KeyName(random.Next(plan.Keys));
                var roll = random.Next(10);
                var kind = roll < 4 ? OpKind.Put : roll < 8 ? OpKind.Get : OpKind.Delete;
                var value = (long)client * 10_000_000 + seq;

                using var timeout = new CancellationTokenSource(plan.OpTimeout);
                var invoke = Now;
                Reply reply;
                try
                {
                    reply = kind switch
                    {
                        OpKind.Put => await target.PutAsync(key, value, timeout.Token),
                        OpKind.Get => await target.GetAsync(key, timeout.Token),
                        _ => await target.DeleteAsync(key, timeout.Token),
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
                    invoke, unknown ? Operation.Never : complete, reply.Outcome));
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
}
