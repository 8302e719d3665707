using System.Diagnostics.Metrics;
using AotKvs.Configuration;
using AotKvs.Protocol;
using AotKvs.Storage;

namespace AotKvs.Operations;

/// <summary>
/// The service's own instruments, on the "AotKvs" meter. Request counts and durations come
/// from ASP.NET Core's own meter instead (see <see cref="MetricsCollector"/>).
/// Gauges are read only when scraped, so the store pays nothing per request for them.
/// </summary>
internal sealed class ServiceMetrics
{
    public const string MeterName = "AotKvs";

    private readonly Counter<long> _forwardErrors;
    private readonly Counter<long> _batches;
    private readonly Counter<long> _pipelined;

    // The collector is a parameter so that it listens before the zero counts below are added.
    public ServiceMetrics(IMeterFactory meters, MetricsCollector collector, ServiceOptions options, Readiness readiness, BufferBudget budget, MemoryStore? store = null)
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

        _forwardErrors = meter.CreateCounter<long>("kvs.forward.errors",
            description: "Requests a forwarder could not get a whole answer from main for, by cause.");
        _batches = meter.CreateCounter<long>("kvs.forward.batches",
            description: "Batches of requests a forwarder sent to main in one write (HTTP/1.1 pipelining).");
        _pipelined = meter.CreateCounter<long>("kvs.forward.pipelined",
            description: "Requests a forwarder sent to main in a batch; divided by kvs_forward_batches_total, the mean batch size.");
        if (options.IsForwarding)
        {
            foreach (var cause in ForwardFailure.Causes)
                _forwardErrors.Add(0, new KeyValuePair<string, object?>("cause", cause));
            _batches.Add(0);
            _pipelined.Add(0);
        }

        if (store is not null)
        {
            meter.CreateObservableGauge("kvs.keys", () => (long)store.Count,
                description: "Keys stored on this main.");
            meter.CreateObservableGauge("kvs.value.bytes", store.ValueBytes,
                description: "Bytes of stored values (their JSON text) on this main.");
        }
    }

    public void CountForwardError(string cause) =>
        _forwardErrors.Add(1, new KeyValuePair<string, object?>("cause", cause));

    public void CountBatch(int requests)
    {
        _batches.Add(1);
        _pipelined.Add(requests);
    }
}
