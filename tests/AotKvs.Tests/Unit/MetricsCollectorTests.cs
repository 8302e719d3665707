using System.Diagnostics;
using System.Diagnostics.Metrics;
using AotKvs.Operations;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The collector sits on the hot path (ASP.NET Core calls it once per request): it must
/// aggregate by method, route and status without allocating.
/// </summary>
[Collection(ConsoleCollection.Name), Trait("Category", "Unit")]
public sealed class MetricsCollectorTests
{
    [Fact]
    public void Request_durations_are_aggregated_by_series_without_allocating()
    {
        using var collector = new MetricsCollector();
        // Stands in for ASP.NET Core's meter: same names, same tags (status boxed once, as it does).
        using var hosting = new Meter("Microsoft.AspNetCore.Hosting");
        var duration = hosting.CreateHistogram<double>("http.server.request.duration");
        object ok = 200, missing = 404;
        var tags200 = Tags("GET", "/kvs/{**key}", ok);
        var tags404 = Tags("GET", "/kvs/{**key}", missing);
        duration.Record(0.0002, tags200);
        duration.Record(0.0002, tags404); // first sight of each series allocates it

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
            duration.Record(0.0003, i % 2 == 0 ? tags200 : tags404);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        var text = collector.Scrape();
        Assert.Contains("kvs_http_requests_total{method=\"GET\",route=\"/kvs/{**key}\",status=\"200\"} 5001", text);
        Assert.Contains("kvs_http_requests_total{method=\"GET\",route=\"/kvs/{**key}\",status=\"404\"} 5001", text);
    }

    private static TagList Tags(string method, string route, object status) => new()
    {
        { "http.request.method", method },
        { "url.scheme", "http" },
        { "network.protocol.version", "1.1" },
        { "http.route", route },
        { "http.response.status_code", status },
    };
}
