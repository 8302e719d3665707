using AotKvs.Configuration;
using AotKvs.Forwarding.Client;
using AotKvs.Operations;
using AotKvs.Protocol;

namespace AotKvs.Forwarding;

/// <summary>
/// A forwarder's background check of main: GET /readyz every KVS_READY_PROBE_MS, bounded by
/// the forward timeout. Any answer but 503 means main (or the next forwarder) is there and
/// can serve; a 503 or no answer means not ready. Requests never wait on it.
/// </summary>
internal sealed class UpstreamProbe(ForwardingTarget target, ServiceOptions options, Readiness readiness) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        // Its own connection, so probes and forwarded requests never queue behind each other.
        // Idle connections are dropped sooner than main's keep-alive timeout, so main never closes one we are about to reuse.
        using var client = new HttpMessageInvoker(LeanHttpHandler.Create(options.ForwardTimeout, UpstreamPool.IdleTimeout));
        var uri = target.UriFor(OperationalEndpoints.ReadyPath);
        using var timer = new PeriodicTimer(options.ReadyProbeInterval);
        do
        {
            await ProbeAsync(client, uri, stopping);
        }
        while (await timer.WaitForNextTickAsync(stopping));
    }

    private async Task ProbeAsync(HttpMessageInvoker client, Uri uri, CancellationToken stopping)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(options.ForwardTimeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            using var response = await client.SendAsync(request, deadline.Token);
            await response.Content.ReadAsByteArrayAsync(deadline.Token);
            if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)
                readiness.MarkNotReady($"main {target} is not ready");
            else
                readiness.MarkReady();
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            if (!stopping.IsCancellationRequested)
                readiness.MarkNotReady($"main {target} does not answer: {FailureCause.Cause(e)}");
        }
    }
}
