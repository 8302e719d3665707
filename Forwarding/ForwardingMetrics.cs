using System.Diagnostics.Metrics;
using AotKvs.Configuration;
using AotKvs.Operations;
using AotKvs.Protocol;

namespace AotKvs.Forwarding;

/// <summary>The forwarder's own instruments on the service's meter: errors by cause and pipelined batches.</summary>
internal sealed class ForwardingMetrics
{
    private readonly Counter<long> _forwardErrors;
    private readonly Counter<long> _batches;
    private readonly Counter<long> _pipelined;

    // The collector is a parameter so that it listens before the zero counts below are added.
    public ForwardingMetrics(IMeterFactory meters, MetricsCollector collector)
    {
        var meter = meters.Create(ServiceMetrics.MeterName, HostSetup.Version);
        _forwardErrors = meter.CreateCounter<long>("kvs.forward.errors",
            description: "Requests a forwarder could not get a whole answer from main for, by cause.");
        _batches = meter.CreateCounter<long>("kvs.forward.batches",
            description: "Batches of requests a forwarder sent to main in one write (HTTP/1.1 pipelining).");
        _pipelined = meter.CreateCounter<long>("kvs.forward.pipelined",
            description: "Requests a forwarder sent to main in a batch; divided by kvs_forward_batches_total, the mean batch size.");
        foreach (var cause in FailureCause.Causes)
            _forwardErrors.Add(0, new KeyValuePair<string, object?>("cause", cause));
        _batches.Add(0);
        _pipelined.Add(0);
    }

    public void CountForwardError(string cause) =>
        _forwardErrors.Add(1, new KeyValuePair<string, object?>("cause", cause));

    public void CountBatch(int requests)
    {
        _batches.Add(1);
        _pipelined.Add(requests);
    }
}
