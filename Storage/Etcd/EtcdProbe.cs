using AotKvs.Configuration;
using AotKvs.Operations;

namespace AotKvs.Storage.Etcd;

/// <summary>
/// The background check of the cluster: a linearizable read every KVS_READY_PROBE_MS, bounded
/// by the store timeout. It answering means the cluster has a quorum and this main can
/// serve; the failure's reason is what /readyz shows. Requests never wait on it.
/// </summary>
internal sealed class EtcdProbe(EtcdStore store, StoreSettings settings, ServiceOptions options, Readiness readiness) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(options.ReadyProbeInterval);
        do
        {
            try
            {
                await store.ProbeAsync(stopping);
                readiness.MarkReady("store answers");
            }
            catch (StoreException e)
            {
                readiness.MarkNotReady($"store {settings.Display} does not answer: {e.Message}");
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
        }
        while (await timer.WaitForNextTickAsync(stopping));
    }
}
