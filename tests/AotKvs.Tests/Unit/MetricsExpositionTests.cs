using System.Diagnostics;
using System.Diagnostics.Metrics;
using AotKvs.Operations;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// What /metrics writes, line for line, for measurements made here: the Prometheus text
/// format (version 0.0.4) as its specification and docs/operations.md describe it.
/// </summary>
[Collection(ConsoleCollection.Name), Trait("Category", "Unit")]
public sealed class MetricsExpositionTests
{
    /// <summary>The histogram's upper bounds as the docs list them: 0.1 ms to 10 s.</summary>
    private static readonly string[] Les =
        ["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];

    [Fact]
    public void Scrape_writes_requests_then_own_instruments_in_order()
    {
        using var hosting = new Meter("Microsoft.AspNetCore.Hosting");
        using var own = new Meter(ServiceMetrics.MeterName);
        // Only these two: other tests running meanwhile create meters of the same names.
        using var collector = new MetricsCollector(meter => meter == hosting || meter == own);
        var duration = hosting.CreateHistogram<double>("http.server.request.duration");
        var otherHistogram = hosting.CreateHistogram<double>("http.server.other.duration");
        var errors = own.CreateCounter<long>("kvs.forward.errors", description: "Errors by cause.");
        own.CreateCounter<long>("kvs.idle", description: "Never counted.");
        own.CreateObservableGauge("kvs.ready", () => 1, description: "Ready or not.");
        own.CreateObservableGauge("kvs.keys", () => 3L, description: "Keys stored.");
        using var stranger = new Meter("Elsewhere");
        var strangerCounter = stranger.CreateCounter<long>("kvs.stranger");

        duration.Record(0.0001, Tags("GET", 200));  // exactly on the first bound: counted in it
        duration.Record(0.25, Tags("PUT", 201));
        duration.Record(20, Tags("PUT", 201));      // beyond the last bound: +Inf only
        otherHistogram.Record(1, Tags("GET", 200));
        strangerCounter.Add(5);
        errors.Add(1, new KeyValuePair<string, object?>("cause", "timeout"));
        errors.Add(1, new KeyValuePair<string, object?>("cause", "refused"));
        errors.Add(2, new KeyValuePair<string, object?>("cause", "refused"));

        var expected = new List<string>
        {
            "# HELP kvs_http_requests_total HTTP requests answered, by method, route and status.",
            "# TYPE kvs_http_requests_total counter",
            """kvs_http_requests_total{method="GET",route="/kvs/{**key}",status="200"} 1""",
            """kvs_http_requests_total{method="PUT",route="/kvs/{**key}",status="201"} 2""",
            "# HELP kvs_http_request_duration_seconds Time from request start to the end of the answer, by method, route and status.",
            "# TYPE kvs_http_request_duration_seconds histogram",
        };
        expected.AddRange(Histogram("""method="GET",route="/kvs/{**key}",status="200" """.Trim(), le => 1, "0.0001", 1));
        expected.AddRange(Histogram("""method="PUT",route="/kvs/{**key}",status="201" """.Trim(),
            le => le == "+Inf" ? 2 : Array.IndexOf(Les, le) >= Array.IndexOf(Les, "0.25") ? 1 : 0, "20.25", 2));
        expected.AddRange(
        [
            "# HELP kvs_forward_errors_total Errors by cause.",
            "# TYPE kvs_forward_errors_total counter",
            """kvs_forward_errors_total{cause="refused"} 3""",
            """kvs_forward_errors_total{cause="timeout"} 1""",
            "# HELP kvs_keys Keys stored.",
            "# TYPE kvs_keys gauge",
            "kvs_keys 3",
            "# HELP kvs_ready Ready or not.",
            "# TYPE kvs_ready gauge",
            "kvs_ready 1",
        ]);

        var text = collector.Scrape();
        Assert.EndsWith("\n", text);
        Assert.Equal(expected, text.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Gauges_show_the_last_reading_and_counters_the_sum()
    {
        using var collector = new MetricsCollector();
        using var own = new Meter(ServiceMetrics.MeterName);
        var reading = 7L;
        own.CreateObservableGauge("kvs.value.bytes", () => reading);
        var counter = own.CreateCounter<int>("kvs.count");
        counter.Add(2);
        counter.Add(3);
        var first = collector.Scrape();
        Assert.Contains("kvs_value_bytes 7\n", first);
        Assert.Contains("# HELP kvs_value_bytes \n# TYPE kvs_value_bytes gauge\n", first); // no description: an empty help
        reading = 4;
        var text = collector.Scrape();
        Assert.Contains("kvs_value_bytes 4\n", text);
        Assert.Contains("kvs_count_total 5\n", text);
    }

    [Fact]
    public void A_status_that_is_not_a_number_is_0_and_missing_tags_are_empty()
    {
        using var collector = new MetricsCollector();
        using var hosting = new Meter("Microsoft.AspNetCore.Hosting");
        var duration = hosting.CreateHistogram<double>("http.server.request.duration");
        duration.Record(0.001, Tags("GET", "200"));
        duration.Record(0.001, new KeyValuePair<string, object?>("http.response.status_code", 404));
        var text = collector.Scrape();
        Assert.Contains("""kvs_http_requests_total{method="GET",route="/kvs/{**key}",status="0"} 1""", text);
        Assert.Contains("""kvs_http_requests_total{method="",route="",status="404"} 1""", text); // tags missing: empty labels
    }

    [Fact]
    public void Series_that_differ_only_in_method_or_route_stay_apart()
    {
        using var collector = new MetricsCollector();
        using var hosting = new Meter("Microsoft.AspNetCore.Hosting");
        var duration = hosting.CreateHistogram<double>("http.server.request.duration");
        duration.Record(0.001, Tags("GET", 200));
        duration.Record(0.001, Tags("PUT", 200));
        duration.Record(0.001, Tags("PUT", 200));
        duration.Record(0.001, new KeyValuePair<string, object?>("http.request.method", "PUT"),
            new KeyValuePair<string, object?>("http.route", "/kvs/{**kex}"), new KeyValuePair<string, object?>("http.response.status_code", 200));
        var text = collector.Scrape();
        Assert.Contains("""kvs_http_requests_total{method="GET",route="/kvs/{**key}",status="200"} 1""", text);
        Assert.Contains("""kvs_http_requests_total{method="PUT",route="/kvs/{**key}",status="200"} 2""", text);
        Assert.Contains("""kvs_http_requests_total{method="PUT",route="/kvs/{**kex}",status="200"} 1""", text);
    }

    private static IEnumerable<string> Histogram(string labels, Func<string, int> count, string sum, int total)
    {
        foreach (var le in Les)
            yield return $"kvs_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {count(le)}";
        yield return $"kvs_http_request_duration_seconds_sum{{{labels}}} {sum}";
        yield return $"kvs_http_request_duration_seconds_count{{{labels}}} {total}";
    }

    private static TagList Tags(string method, object status) => new()
    {
        { "http.request.method", method },
        { "http.route", "/kvs/{**key}" },
        { "http.response.status_code", status },
    };
}
