using System.Diagnostics.Metrics;
using AotKvs.Operations;

namespace AotKvs.Storage.Log;

/// <summary>The data dir's gauges on the service's meter, read only when /metrics is scraped.</summary>
internal static class DurabilityMetrics
{
    public static void Register(IMeterFactory meters, WriteAheadLog log, RecoveryResult recovered)
    {
        var meter = meters.Create(ServiceMetrics.MeterName);
        meter.CreateObservableGauge("kvs.log.bytes", () => log.LogBytes,
            description: "Bytes in the data dir's logs (changes since the last snapshot).");
        meter.CreateObservableGauge("kvs.snapshot.bytes", () => log.SnapshotBytes,
            description: "Bytes of the data dir's last snapshot.");
        meter.CreateObservableGauge("kvs.log.flush.last.microseconds", () => log.LastFlushMicroseconds,
            description: "How long the last write (and fsync, with --sync always) of a batch of changes took.");
        meter.CreateObservableGauge("kvs.log.batches", () => log.Batches,
            description: "Batches written since start, each one write (and one fsync with --sync always) for every change that arrived meanwhile.");
        meter.CreateObservableGauge("kvs.log.compactions", () => log.Compactions,
            description: "Snapshots written since start.");
        meter.CreateObservableGauge("kvs.log.records.recovered", () => recovered.Records,
            description: "Records replayed from the data dir at start-up.");
        meter.CreateObservableGauge("kvs.log.recovered.dropped.bytes", () => recovered.DroppedBytes,
            description: "Bytes of torn or corrupt records cut from the data dir at start-up.");
    }
}
