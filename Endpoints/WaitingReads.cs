using System.Diagnostics.Metrics;
using AotKvs.Operations;
using AotKvs.Storage;

namespace AotKvs.Endpoints;

/// <summary>
/// Reads that wait for a change (watches): a GET or HEAD with If-None-Match and
/// Prefer: wait=N (RFC 7240) whose answer now would be 304 — the client already holds the
/// current state — waits up to N seconds (at most --max-wait-seconds) for the key's version to
/// change, then is answered with the state it finds (200, 404, or 304 when nothing changed).
/// At most --max-waiters wait at once; more are answered at once, as if they had not asked.
/// A waiting read holds no buffer: its request's state, the store's waiter and a timer.
/// </summary>
internal sealed class WaitingReads
{
    private readonly int _maxSeconds;
    private readonly int _maxWaiters;
    private readonly Counter<long>? _ended;
    private int _waiting;

    public WaitingReads(int maxSeconds, int maxWaiters, IMeterFactory? meters = null)
    {
        _maxSeconds = maxSeconds;
        _maxWaiters = maxWaiters;
        if (meters is null)
            return;
        var meter = meters.Create(ServiceMetrics.MeterName);
        meter.CreateObservableGauge("kvs.waiting", () => Volatile.Read(ref _waiting),
            description: "GET and HEAD requests waiting now for a key to change (Prefer: wait; limit: KVS_MAX_WAITERS).");
        _ended = meter.CreateCounter<long>("kvs.waits",
            description: "Waiting reads that ended, by outcome: changed, timeout, left (the client went), refused (answered at once: KVS_MAX_WAITERS reached, or a store that cannot watch), failed (the store failed).");
        foreach (var outcome in (string[])["changed", "timeout", "left", "refused", "failed"])
            _ended.Add(0, new KeyValuePair<string, object?>("outcome", outcome));
    }

    /// <summary>Whether a request with <paramref name="condition"/> would be answered 304 for <paramref name="found"/>: the client holds this state.</summary>
    public static bool Unchanged(Precondition condition, StoredValue found) =>
        found.Found
            ? condition.Evaluate(found.Version) == PreconditionResult.IfNoneMatchFailed
            : !condition.IfMatch.Present && condition.IfNoneMatch.NamesAbsence;

    /// <summary>
    /// Waits until the key's state is not <paramref name="found"/> or <paramref name="seconds"/>
    /// pass (capped), and returns the state then; <paramref name="applied"/>: the seconds
    /// granted, 0 when the request was answered without waiting (too many waiting, or a store
    /// that cannot watch). Throws OperationCanceledException when the client leaves.
    /// </summary>
    public async ValueTask<StoredValue> WaitAsync(IKeyValueStore store, ReadOnlyMemory<byte> key, Precondition condition, StoredValue found,
        int seconds, Action<int> applied, CancellationToken aborted)
    {
        var granted = Math.Min(seconds, _maxSeconds);
        if (Interlocked.Increment(ref _waiting) > _maxWaiters)
        {
            Interlocked.Decrement(ref _waiting);
            Ended("refused");
            return found;
        }
        var outcome = "failed"; // the store failed while it waited: the client gets its refusal
        try
        {
            applied(granted);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(aborted);
            wait.CancelAfter(TimeSpan.FromSeconds(granted));
            while (Unchanged(condition, found))
            {
                try
                {
                    await store.WaitForChangeAsync(key, found.Version, wait.Token);
                }
                catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                {
                    outcome = "timeout";
                    return found;
                }
                catch (StoreException e) when (e.Failure == StoreFailure.WatchUnsupported)
                {
                    applied(0);
                    outcome = "refused";
                    return found;
                }
                // A change can be undone before this read (a key created and deleted again): then wait on.
                found = await store.GetAsync(key, aborted);
            }
            outcome = "changed";
            return found;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            outcome = "left";
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
            Ended(outcome);
        }
    }

    private void Ended(string outcome) => _ended?.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
}
