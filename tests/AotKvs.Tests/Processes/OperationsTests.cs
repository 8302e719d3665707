using System.Text.RegularExpressions;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Processes;

/// <summary>
/// The reserved operational paths: /healthz, /readyz and /metrics, answered by every
/// instance itself and never forwarded.
/// </summary>
[Trait("Category", "Processes")]
public sealed class OperationsTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Healthz_answers_200_JSON_on_main_and_forwarder()
    {
        using var main = ServerProcess.StartMain(env: ("KVS_INSTANCE", "m1"));
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        var answer = await GetAsync(main.BaseUri, "/healthz");
        Assert.Equal(200, answer.Status);
        Assert.Equal("application/json", answer.ContentType);
        Assert.Equal("alive", answer.Json!["status"]!.GetValue<string>());
        Assert.Equal("main", answer.Json!["role"]!.GetValue<string>());
        Assert.Equal("m1", answer.Json!["instance"]!.GetValue<string>());
        Assert.Equal("forwarding", (await GetAsync(forwarder.BaseUri, "/healthz")).Json!["role"]!.GetValue<string>());
    }

    [Fact]
    public async Task Reserved_paths_are_answered_locally_even_when_main_is_gone()
    {
        using var forwarder = ServerProcess.StartForwarder($"127.0.0.1:{FreePort.Next()}");
        Assert.Equal(200, (await GetAsync(forwarder.BaseUri, "/healthz")).Status);
        Assert.Equal(200, (await GetAsync(forwarder.BaseUri, "/metrics")).Status);
        Assert.Equal(200, (await GetAsync(forwarder.BaseUri, "/HEALTHZ?probe=1")).Status); // routed like every path
        (await GetAsync(forwarder.BaseUri, "/readyz")).ShouldBeJsonError(503);
        // Everything else is still forwarded, and so fails.
        (await GetAsync(forwarder.BaseUri, "/kvs/a")).ShouldBe(503, Expected.CannotForward);
        (await GetAsync(forwarder.BaseUri, "/healthzz")).ShouldBe(503, Expected.CannotForward);
        (await GetAsync(forwarder.BaseUri, "/healthz/x")).ShouldBe(503, Expected.CannotForward);
    }

    [Fact]
    public async Task Reserved_paths_are_never_cached()
    {
        using var main = ServerProcess.StartMain();
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        foreach (var server in new[] { main.BaseUri, forwarder.BaseUri })
            foreach (var path in new[] { "/healthz", "/readyz", "/metrics" })
                foreach (var method in new[] { "GET", "HEAD" })
                {
                    var answer = await SendAsync(server, method, path);
                    Assert.True(answer.Headers.CacheControl?.NoStore == true, $"{method} {path} on {server}: Cache-Control '{answer.Headers.CacheControl}'");
                }
        // The key-value answers are left to the HTTP defaults.
        Assert.Null((await GetAsync(main.BaseUri, "/kvs/" + UniqueKey())).Headers.CacheControl);
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    [InlineData("/metrics")]
    public async Task Reserved_paths_refuse_writes_with_405_and_never_forward_them(string path)
    {
        using var main = ServerProcess.StartMain();
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        foreach (var server in new[] { main.BaseUri, forwarder.BaseUri })
        {
            var answer = await SendAsync(server, "PUT", path, """{"value": 1}""");
            answer.ShouldBeJsonError(405);
            Assert.Equal(["GET", "HEAD"], answer.ContentHeaders.Allow);
        }
    }

    [Fact]
    public async Task Readyz_on_main_is_200()
    {
        using var main = ServerProcess.StartMain();
        (await GetAsync(main.BaseUri, "/readyz")).ShouldBe(200, """{"status": "ready", "role": "main"}""");
    }

    [Fact]
    public async Task Forwarder_is_ready_with_main_up_not_ready_soon_after_main_dies_and_ready_again_after_restart()
    {
        var port = FreePort.Next();
        var main = ServerProcess.StartMain(port);
        using var forwarder = ServerProcess.StartForwarder(main.Address); // default probe interval

        Assert.True(await Poll.UntilAsync(async () => (await GetAsync(forwarder.BaseUri, "/readyz")).Status == 200, Bound));
        var ready = await GetAsync(forwarder.BaseUri, "/readyz");
        ready.ShouldBe(200, $$"""{"status": "ready", "role": "forwarding", "upstream": "{{main.Address}}"}""");

        main.Kill();
        main.Dispose();
        Assert.True(await Poll.UntilAsync(async () => (await GetAsync(forwarder.BaseUri, "/readyz")).Status == 503, Bound));
        var notReady = await GetAsync(forwarder.BaseUri, "/readyz");
        notReady.ShouldBeJsonError(503);
        Assert.Equal("not ready", notReady.Json!["status"]!.GetValue<string>());

        using var restarted = ServerProcess.StartMain(port);
        Assert.True(await Poll.UntilAsync(async () => (await GetAsync(forwarder.BaseUri, "/readyz")).Status == 200, Bound));
    }

    [Fact]
    public async Task Forwarded_requests_update_readiness_at_once_without_waiting_for_the_probe()
    {
        var port = FreePort.Next();
        var main = ServerProcess.StartMain(port);
        // One probe at start, then none for an hour: only real requests can change readiness.
        using var forwarder = ServerProcess.StartForwarder(main.Address, null, ("KVS_READY_PROBE_MS", "3600000"));
        Assert.True(await Poll.UntilAsync(async () => (await GetAsync(forwarder.BaseUri, "/readyz")).Status == 200, Bound));

        main.Kill();
        main.Dispose();
        (await GetAsync(forwarder.BaseUri, "/kvs/a")).ShouldBe(503, Expected.CannotForward);
        (await GetAsync(forwarder.BaseUri, "/readyz")).ShouldBeJsonError(503);

        using var restarted = ServerProcess.StartMain(port);
        (await GetAsync(forwarder.BaseUri, "/kvs/a")).ShouldBe(404, Expected.KeyNotFound);
        Assert.Equal(200, (await GetAsync(forwarder.BaseUri, "/readyz")).Status);
    }

    [Fact]
    public async Task Metrics_count_requests_by_method_route_and_status_with_a_duration_histogram()
    {
        using var main = ServerProcess.StartMain();
        var key = UniqueKey("m");
        (await PutValueAsync(main.BaseUri, $"/kvs/{key}", "\"12345\"")).ShouldBe(201, Expected.Created);
        await GetAsync(main.BaseUri, $"/kvs/{key}");
        await GetAsync(main.BaseUri, "/kvs/absent");
        await GetAsync(main.BaseUri, "/kvs/absent");

        var metrics = await ScrapeAsync(main.BaseUri);
        Assert.Equal(1, Sample(metrics, """kvs_http_requests_total{method="PUT",route="/kvs/{**key}",status="201"}"""));
        Assert.Equal(1, Sample(metrics, """kvs_http_requests_total{method="GET",route="/kvs/{**key}",status="200"}"""));
        Assert.Equal(2, Sample(metrics, """kvs_http_requests_total{method="GET",route="/kvs/{**key}",status="404"}"""));
        Assert.Equal(2, Sample(metrics, """kvs_http_request_duration_seconds_bucket{method="GET",route="/kvs/{**key}",status="404",le="+Inf"}"""));
        Assert.Equal(2, Sample(metrics, """kvs_http_request_duration_seconds_count{method="GET",route="/kvs/{**key}",status="404"}"""));
        Assert.Contains("# TYPE kvs_http_request_duration_seconds histogram", metrics);
        Assert.Equal(1, Sample(metrics, "kvs_keys"));
        Assert.Equal(7, Sample(metrics, "kvs_value_bytes")); // "12345" with its quotes
        Assert.Equal(1, Sample(metrics, "kvs_ready"));
    }

    [Fact]
    public async Task Metrics_count_forward_errors_by_cause()
    {
        using var forwarder = ServerProcess.StartForwarder($"127.0.0.1:{FreePort.Next()}");
        await GetAsync(forwarder.BaseUri, "/kvs/a");
        await GetAsync(forwarder.BaseUri, "/kvs/b");

        var metrics = await ScrapeAsync(forwarder.BaseUri);
        Assert.Equal(2, Sample(metrics, """kvs_forward_errors_total{cause="refused"}"""));
        Assert.Equal(0, Sample(metrics, """kvs_forward_errors_total{cause="timeout"}"""));
        Assert.Equal(2, Sample(metrics, """kvs_http_requests_total{method="GET",route="{**path}",status="503"}"""));
        Assert.Equal(0, Sample(metrics, "kvs_ready"));
        Assert.DoesNotContain("kvs_keys", metrics);
    }

    [Fact]
    public async Task Concurrent_clients_through_a_forwarder_are_pipelined_to_main_and_each_reads_its_own_writes()
    {
        using var main = ServerProcess.StartMain();
        using var forwarder = ServerProcess.StartForwarder(main.Address);

        // 64 clients at once, each writing and reading back its own key: far more requests in
        // flight than the forwarder's four lanes, so most wait in batches behind others.
        await Task.WhenAll(Enumerable.Range(0, 64).Select(client => Task.Run(async () =>
        {
            for (var round = 0; round < 30; round++)
            {
                var put = await PutValueAsync(forwarder.BaseUri, $"/kvs/p{client}", round.ToString());
                Assert.Equal(round == 0 ? 201 : 200, put.Status);
                (await GetAsync(forwarder.BaseUri, $"/kvs/p{client}")).ShouldBe(200, $$"""{"result":"found","value":{{round}}}""");
            }
        })));

        var metrics = await ScrapeAsync(forwarder.BaseUri);
        var batches = Sample(metrics, "kvs_forward_batches_total");
        var pipelined = Sample(metrics, "kvs_forward_pipelined_total");
        Assert.True(batches > 0, "no batch was sent");
        Assert.True(pipelined > batches, $"{pipelined} requests in {batches} batches: none shared a write");
        Assert.Equal(0, Sample(metrics, """kvs_forward_errors_total{cause="dropped"}"""));
        Assert.DoesNotContain("kvs_forward_batches_total", await ScrapeAsync(main.BaseUri)); // main sends no batches
    }

    [Fact]
    public async Task Metrics_use_the_Prometheus_text_format()
    {
        using var main = ServerProcess.StartMain();
        var answer = await GetAsync(main.BaseUri, "/metrics");
        Assert.Equal(200, answer.Status);
        Assert.Equal("text/plain", answer.ContentType);
        Assert.Contains(answer.ContentHeaders.ContentType!.Parameters, p => p.Name == "version" && p.Value == "0.0.4");
        foreach (var line in answer.Body.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.Matches(@"^(# (HELP|TYPE) [a-z_]+ .*|[a-z_]+(\{([a-z_]+=""([^""\\]|\\.)*"",?)+\})? -?[0-9.eE+-]+)$", line);
    }

    private static async Task<string> ScrapeAsync(Uri server)
    {
        var answer = await GetAsync(server, "/metrics");
        Assert.Equal(200, answer.Status);
        return answer.Body;
    }

    /// <summary>The value of one sample line, named with its labels exactly as exposed.</summary>
    private static double Sample(string metrics, string series)
    {
        var match = Regex.Match(metrics, "^" + Regex.Escape(series) + " (\\S+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"no sample {series} in\n{metrics}");
        return double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
