namespace AotKvs.Operations;

/// <summary>
/// Whether this instance can do its job right now. Main is ready as soon as it serves.
/// A forwarder is ready only while its main answers: the forwarding role tells it, from its
/// background probe of main and from the outcome of every forwarded request, so a request
/// never waits on a readiness check.
/// </summary>
internal sealed class Readiness(string? initialProblem, ILogger<Readiness> logger)
{
    // Null while ready; otherwise why not. Written only on a change of state.
    private string? _problem = initialProblem;

    public bool IsReady => Volatile.Read(ref _problem) is null;

    public string? Problem => Volatile.Read(ref _problem);

    public void MarkReady(string what = "main answers")
    {
        if (Volatile.Read(ref _problem) is null)
            return; // the common case: one read, no write
        if (Interlocked.Exchange(ref _problem, null) is not null)
            logger.LogInformation("Ready: {What}", what);
    }

    public void MarkNotReady(string problem)
    {
        if (Interlocked.Exchange(ref _problem, problem) is null)
            logger.LogWarning("Not ready: {Problem}", problem);
    }
}
