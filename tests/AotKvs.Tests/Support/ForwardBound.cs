using Xunit;

namespace AotKvs.Tests.Support;

/// <summary>
/// The promise a forwarder makes when main does not answer: the 503 comes at
/// KVS_FORWARD_TIMEOUT_MS (documented default 1000 ms). Forwarding/Forwarder.cs puts one
/// deadline over connecting, sending and reading main's whole answer, so it is neither
/// earlier than 0.9x the bound (a forwarder that gives up early fails a slow main) nor
/// later than the bound plus <see cref="Margin"/>.
/// </summary>
public static class ForwardBound
{
    /// <summary>The documented default, written here rather than read from the product, so a changed default fails.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromMilliseconds(1000);

    /// <summary>
    /// What the client side adds beyond the forwarder's deadline: our HTTP client, the
    /// forwarder writing its 503, and scheduling on a busy 2-core machine. A quarter of the
    /// default bound; tests with these bounds never run alongside the heavy ones
    /// (<see cref="TimingCollection"/>).
    /// </summary>
    public static readonly TimeSpan Margin = TimeSpan.FromMilliseconds(250);

    /// <summary>The 503 came when the bound ran out: from 0.9x the bound to the bound plus the margin.</summary>
    public static void AtTheBound(TimeSpan elapsed, TimeSpan bound, string what = "") =>
        Assert.True(elapsed >= bound * 0.9 && elapsed <= bound + Margin,
            $"{what}503 after {elapsed.TotalMilliseconds:F0} ms, expected {(bound * 0.9).TotalMilliseconds:F0} to {(bound + Margin).TotalMilliseconds:F0} ms");

    /// <summary>The 503 came no later than the bound plus the margin (main refused or vanished: it may come at once).</summary>
    public static void WithinTheBound(TimeSpan elapsed, TimeSpan bound, string what = "") =>
        Assert.True(elapsed <= bound + Margin,
            $"{what}503 after {elapsed.TotalMilliseconds:F0} ms, expected at most {(bound + Margin).TotalMilliseconds:F0} ms");
}

/// <summary>
/// Tests that assert a sub-second or bound-sized time. xunit runs a collection with
/// parallelization disabled on its own, after the parallel ones, so no soak, corpus or
/// load test shares the CPUs with a timing assertion.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    public const string Name = "timing";
}
