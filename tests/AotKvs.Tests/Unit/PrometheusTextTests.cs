using System.Net.Sockets;
using AotKvs.Operations;
using AotKvs.Protocol;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

[Trait("Category", "Unit")]
public sealed class PrometheusTextTests
{
    [Fact]
    public void Label_values_are_escaped_and_dotted_keys_underscored()
    {
        KeyValuePair<string, object?>[] tags = [new("error.type", "a\"b\\c\nd"), new("code", 7)];
        Assert.Equal("""error_type="a\"b\\c\nd",code="7" """.TrimEnd(), PrometheusText.Labels(tags));
    }

    [Fact]
    public void Durations_fall_into_cumulative_buckets()
    {
        var series = new RequestSeries();
        series.Record(0.00005);
        series.Record(0.0003);
        series.Record(20);
        var (cumulative, sum) = series.Snapshot();
        Assert.Equal(1, cumulative[0]);                        // ≤ 0.1 ms
        Assert.Equal(2, cumulative[2]);                        // ≤ 0.5 ms
        Assert.Equal(2, cumulative[RequestSeries.Bounds.Length - 1]); // ≤ 10 s
        Assert.Equal(3, cumulative[^1]);                       // +Inf
        Assert.Equal(20.00035, sum, 6);
    }

    /// <summary>One failure of each kind the forwarder meets, with the cause it must be counted under.</summary>
    public static TheoryData<string, Exception> Failures => new()
    {
        { "refused", new HttpRequestException(HttpRequestError.ConnectionError, "x", new SocketException((int)SocketError.ConnectionRefused)) },
        { "timeout", new TaskCanceledException() },
        { "timeout", new TimeoutException() },
        { "timeout", new HttpRequestException("x", new SocketException((int)SocketError.TimedOut)) },
        { "unreachable", new HttpRequestException("x", new SocketException((int)SocketError.HostUnreachable)) },
        { "unreachable", new HttpRequestException(HttpRequestError.NameResolutionError) },
        { "dropped", new HttpRequestException("x", new HttpIOException(HttpRequestError.ResponseEnded)) },
        { "dropped", new HttpRequestException(HttpRequestError.ResponseEnded) },
        { "dropped", new IOException("reset") },
        { "invalid_response", new HttpRequestException(HttpRequestError.InvalidResponse) },
        { "other", new HttpRequestException("x") },
        { "other", new InvalidOperationException() },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void Forward_failures_are_named_by_cause(string cause, Exception failure) =>
        Assert.Equal(cause, FailureCause.Cause(failure));

    [Fact]
    public void Declared_causes_are_exactly_the_ones_reported_and_the_ones_documented()
    {
        // Every declared cause is pre-registered at 0 in /metrics, so one that can never
        // happen, or one that happens but is not declared, is a wrong series.
        // All but upstream_busy come from an exception; that one from the forwarder's own wait for a connection.
        var reported = Failures.Select(row => FailureCause.Cause((Exception)row[1])).Append(FailureCause.Busy).Distinct().Order();
        Assert.Equal(FailureCause.Causes.Order(), reported);

        var docs = File.ReadLines(Path.Combine(ServerProcess.RepoRoot, "docs", "operations.md"))
            .Single(line => line.StartsWith("| `kvs_forward_errors_total`", StringComparison.Ordinal));
        var documented = docs.Split('|')[3].Replace("`cause`:", "").Split(',').Select(c => c.Trim().Trim('`'));
        Assert.Equal(FailureCause.Causes.Order(), documented.Order());
    }
}
