using System.Net.Sockets;
using AotKvs.Operations;
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

    [Fact]
    public void Forward_failures_are_named_by_cause()
    {
        Assert.Equal("refused", ForwardFailure.Cause(new HttpRequestException(HttpRequestError.ConnectionError, "x", new SocketException((int)SocketError.ConnectionRefused))));
        Assert.Equal("timeout", ForwardFailure.Cause(new TaskCanceledException()));
        Assert.Equal("dropped", ForwardFailure.Cause(new HttpRequestException("x", new HttpIOException(HttpRequestError.ResponseEnded))));
        Assert.Equal("unreachable", ForwardFailure.Cause(new HttpRequestException(HttpRequestError.NameResolutionError)));
        Assert.Equal("other", ForwardFailure.Cause(new HttpRequestException("x")));
        Assert.All(["refused", "timeout", "dropped", "unreachable", "other"], cause => Assert.Contains(cause, ForwardFailure.Causes));
    }
}
