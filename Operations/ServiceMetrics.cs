using System.Diagnostics.Metrics;
using AotKvs.Configuration;
using AotKvs.Protocol;

namespace AotKvs.Operations;

/// <summary>
/// The instance's own instruments on the "AotKvs" meter: which build and role, readiness,
/// the heap and the buffer budget. Each part adds its own instruments to the same meter
/// (the forwarder, the stores); request counts and durations come from ASP.NET Core's own
/// meter (see <see cref="MetricsCollector"/>).
/// Gauges are read only when scraped, so the store pays nothing per request for them.
/// </summary>
internal sealed class ServiceMetrics
{
    public const string MeterName = "AotKvs";

    // The collector is a parameter so that it listens before the zero counts below are added.
    public ServiceMetrics(IMeterFactory meters, MetricsCollector collector, ServiceOptions options, Readiness readiness, BufferBudget budget)
    {
        var meter = meters.Create(MeterName, HostSetup.Version);
        KeyValuePair<string, object?>[] identity =
            [new("version", HostSetup.Version), new("role", options.Role), new("instance", options.Logs.Instance)];
        meter.CreateObservableGauge("kvs.build.info", () => new Measurement<int>(1, identity),
            description: "Always 1; the labels say which build, role and instance answered.");
        meter.CreateObservableGauge("kvs.ready", () => readiness.IsReady ? 1 : 0,
            description: "1 while /readyz answers 200, else 0.");

        meter.CreateObservableGauge("kvs.gc.allocated.bytes", () => GC.GetTotalAllocatedBytes(),
            description: "Bytes allocated on the managed heap since start (it only grows); its rise per request is the garbage a request makes.");
        meter.CreateObservableGauge("kvs.gc.heap.bytes", () => GC.GetGCMemoryInfo().HeapSizeBytes,
            description: "Managed heap size after the last garbage collection.");

        meter.CreateObservableGauge("kvs.buffered.bytes", () => budget.InUse,
            description: "Bytes held now in request bodies being read and answers being relayed (limit: KVS_MAX_BUFFERED_BYTES).");
        var refusals = meter.CreateCounter<long>("kvs.buffer.refusals",
            description: "Requests answered 503 \"Server is busy\" because KVS_MAX_BUFFERED_BYTES was reached.");
        refusals.Add(0);
        budget.Refusing = () => refusals.Add(1);
    }
}
