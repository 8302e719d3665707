using System.Diagnostics;
using System.Diagnostics.Metrics;
using AotKvs.Configuration;
using AotKvs.Operations;

namespace AotKvs.Storage.Etcd;

/// <summary>
/// The store's instruments on the service's meter, so /metrics shows them: calls and their
/// summed latency by operation (rate of one over the other is the mean latency), errors
/// by cause, and the watch streams open.
/// </summary>
internal sealed class EtcdMetrics
{
    public static readonly string[] Causes = ["refused", "unreachable", "timeout", "dropped", "invalid_response", "unavailable", "too_large", "auth", "other"];

    private readonly Counter<long> _calls;
    private readonly Counter<long> _microseconds;
    private readonly Counter<long> _errors;
    private int _watches;

    public EtcdMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(ServiceMetrics.MeterName, HostSetup.Version);
        _calls = meter.CreateCounter<long>("kvs.store.calls",
            description: "Calls this main made to its etcd cluster, by operation (failed ones included).");
        _microseconds = meter.CreateCounter<long>("kvs.store.duration.microseconds",
            description: "Time spent in calls to the etcd cluster, by operation; divided by kvs_store_calls_total, the mean latency.");
        _errors = meter.CreateCounter<long>("kvs.store.errors",
            description: "Calls to the etcd cluster that failed, by cause.");
        meter.CreateObservableGauge("kvs.store.watches", () => Volatile.Read(ref _watches),
            description: "Watch streams this main holds open to its etcd cluster (one per waiting request).");
        foreach (var call in EtcdCall.All)
        {
            _calls.Add(0, Op(call));
            _microseconds.Add(0, Op(call));
        }
        foreach (var cause in Causes)
            _errors.Add(0, new KeyValuePair<string, object?>("cause", cause));
    }

    public void Record(EtcdCall call, long startedTimestamp)
    {
        _calls.Add(1, Op(call));
        _microseconds.Add((long)Stopwatch.GetElapsedTime(startedTimestamp).TotalMicroseconds, Op(call));
    }

    /// <summary>Watch streams open now.</summary>
    public int Watches => Volatile.Read(ref _watches);

    public void WatchOpened() => Interlocked.Increment(ref _watches);

    public void WatchClosed() => Interlocked.Decrement(ref _watches);

    public void CountError(string cause) => _errors.Add(1, new KeyValuePair<string, object?>("cause", cause));

    private static KeyValuePair<string, object?> Op(EtcdCall call) => new("op", call.Name);
}
