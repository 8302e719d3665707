using AotKvs.Operations;
using AotKvs.Protocol;

namespace AotKvs.Forwarding;

/// <summary>
/// What a forwarder learns about main from its real requests, fed to readiness and to the
/// forward-error counter. Called on every forwarded request, so the answer path costs one
/// volatile read.
/// </summary>
internal sealed class UpstreamReport(Readiness readiness, ForwardingMetrics metrics)
{
    public void Answered(int status)
    {
        // A 503 relayed from further down a chain says nothing about our own main link.
        if (status != StatusCodes.Status503ServiceUnavailable)
            readiness.MarkReady();
    }

    /// <summary>Every connection to main stayed busy for the whole bound: counted, but main is not marked not ready.</summary>
    public void AllConnectionsBusy() => metrics.CountForwardError(FailureCause.Busy);

    /// <summary>A timeout while main kept answering other requests: counted, but main stays ready.</summary>
    public void TimedOutWhileMainAnswers(Exception failure) => metrics.CountForwardError(FailureCause.Cause(failure));

    /// <summary>A batch of <paramref name="requests"/> went to main in one write.</summary>
    public void SentBatch(int requests) => metrics.CountBatch(requests);

    public void Failed(Exception failure)
    {
        var cause = FailureCause.Cause(failure);
        metrics.CountForwardError(cause);
        readiness.MarkNotReady($"forwarding failed: {cause}");
    }
}
