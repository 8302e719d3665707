using System.Text.Json;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Processes;

/// <summary>
/// A main over etcd (KVS_STORE), against real etcd processes on loopback: its settings, the
/// store's limit, the cluster going away and coming back, TLS with client certificates and
/// etcd's users. The contract itself is the black-box suite's (scripts/suites/etcd.sh).
/// </summary>
[Collection(TimingCollection.Name), Trait("Category", "Processes")]
public sealed class EtcdStoreTests
{
    private static readonly TimeSpan StoreBound = TimeSpan.FromMilliseconds(1000); // KVS_STORE_TIMEOUT_MS's documented default

    [Theory]
    [InlineData("etcd://")]
    [InlineData("etcd://127.0.0.1")]
    [InlineData("redis://127.0.0.1:6379")]
    [InlineData("127.0.0.1:2379")]
    [InlineData("etcd://127.0.0.1:2379,")]
    [InlineData("etcd://127.0.0.1:2379/prefix")]
    [InlineData("etcd://user:pw@127.0.0.1:2379")]
    public void A_bad_store_value_stops_start_up_with_one_message_and_exit_code_2(string value)
    {
        using var run = ServerProcess.Run([("KVS_STORE", value)]);
        Assert.Equal(2, run.ExitCode);
        var lines = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("KVS_STORE", lines[0]);
    }

    [Theory]
    [InlineData("KVS_STORE_CERT_FILE", "/etc/hostname")]          // a certificate without its key
    [InlineData("KVS_STORE_CA_FILE", "/nonexistent/ca.pem")]      // a file that is not there
    [InlineData("FORWARDING_ADDRESS", "127.0.0.1:8090")]          // a forwarder holds no data
    [InlineData("KVS_STORE_USER", "root")]                        // a user without a password file
    [InlineData("KVS_DATA_DIR", "/tmp/aotkvs-never-created")]     // two places for main's data
    public void Store_settings_that_cannot_work_stop_start_up(string variable, string value)
    {
        using var run = ServerProcess.Run([("KVS_STORE", "etcd://127.0.0.1:2379"), (variable, value)]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(variable == "FORWARDING_ADDRESS" ? "KVS_STORE" : variable, run.Output);
        Assert.False(Directory.Exists("/tmp/aotkvs-never-created"));
    }

    [Fact]
    public async Task A_value_over_etcds_request_limit_gets_413_and_one_under_it_round_trips()
    {
        using var etcd = EtcdCluster.Start();
        using var main = StartOver(etcd);
        var tooLarge = JsonSerializer.Serialize(new string('x', 1600 * 1024)); // etcd's limit: 1.5 MiB per request
        (await PutValueAsync(main.BaseUri, "/kvs/big", tooLarge)).ShouldBe(413, Expected.ValueTooLargeForStore);
        (await GetAsync(main.BaseUri, "/kvs/big")).ShouldBe(404, Expected.KeyNotFound);

        var fits = JsonSerializer.Serialize(new string('y', 1400 * 1024));
        (await PutValueAsync(main.BaseUri, "/kvs/big", fits)).ShouldBe(201, Expected.Created);
        var read = await GetAsync(main.BaseUri, "/kvs/big");
        Assert.Equal(200, read.Status);
        using var body = JsonDocument.Parse(read.Body);
        Assert.Equal(1400 * 1024, body.RootElement.GetProperty("value").GetString()!.Length);
    }

    [Fact]
    public async Task Keys_live_under_the_prefix_as_the_exact_json_text_written()
    {
        using var etcd = EtcdCluster.Start();
        using var main = StartOver(etcd, ("KVS_STORE_PREFIX", "/tenant-a/"));
        (await PutValueAsync(main.BaseUri, "/kvs/caf%C3%A9", """{"n": 1.50, "s": "\u00e9"}""")).ShouldBe(201, Expected.Created);
        using var range = JsonDocument.Parse(etcd.Call(0, "/v3/kv/range", new { key = EtcdCluster.Base64("/tenant-a/café") }));
        var stored = range.RootElement.GetProperty("kvs")[0].GetProperty("value").GetBytesFromBase64();
        Assert.Equal("""{"n": 1.50, "s": "\u00e9"}""", System.Text.Encoding.UTF8.GetString(stored));
    }

    [Fact]
    public async Task Etcd_killed_gives_503_at_once_and_not_ready_and_etcd_restarted_resumes_service_with_the_data()
    {
        using var etcd = EtcdCluster.Start();
        using var main = StartOver(etcd);
        (await PutValueAsync(main.BaseUri, "/kvs/kept", "\"before\"")).ShouldBe(201, Expected.Created);

        etcd.Kill(0);
        var (answer, elapsed) = ForwardBound.TimedGet(main.Port, "/kvs/kept");
        answer.ShouldBe(503, Expected.StoreUnavailable);
        ForwardBound.WithinTheBound(elapsed, StoreBound, "etcd refused: ");
        (await PutValueAsync(main.BaseUri, "/kvs/other", "1")).ShouldBe(503, Expected.StoreUnavailable);
        Assert.True(await Poll.UntilAsync(async () => (await GetAsync(main.BaseUri, "/readyz")).Status == 503, TimeSpan.FromSeconds(5)));
        Assert.Contains("does not answer", (await GetAsync(main.BaseUri, "/readyz")).Body);

        etcd.Restart(0);
        Assert.True(await Poll.UntilAsync(async () => (await GetAsync(main.BaseUri, "/readyz")).Status == 200, TimeSpan.FromSeconds(15)), main.Output);
        (await GetAsync(main.BaseUri, "/kvs/kept")).ShouldBe(200, """{"result": "found", "value": "before"}""");
        Assert.Contains("Store call failed: etcd endpoint 127.0.0.1:", main.Output); // which endpoint, and why
        Assert.Contains("refused", main.Output);
    }

    [Fact]
    public async Task Etcd_frozen_gives_503_within_the_store_bound_and_thawed_serves_again()
    {
        using var etcd = EtcdCluster.Start();
        using var main = StartOver(etcd);
        (await PutValueAsync(main.BaseUri, "/kvs/a", "1")).ShouldBe(201, Expected.Created);

        etcd.Freeze(0);
        try
        {
            var (answer, elapsed) = ForwardBound.TimedGet(main.Port, "/kvs/a");
            answer.ShouldBe(503, Expected.StoreUnavailable);
            ForwardBound.AtTheBound(elapsed, StoreBound, "etcd frozen: ");
            Assert.True(await Poll.UntilAsync(async () => (await GetAsync(main.BaseUri, "/readyz")).Status == 503, TimeSpan.FromSeconds(5)));
        }
        finally
        {
            etcd.Thaw(0);
        }
        Assert.True(await Poll.UntilAsync(async () => (await GetAsync(main.BaseUri, "/kvs/a")).Status == 200, TimeSpan.FromSeconds(10)));
        Assert.True(await Poll.UntilAsync(async () => (await GetAsync(main.BaseUri, "/readyz")).Status == 200, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_main_started_while_etcd_is_down_starts_not_ready_and_recovers_by_itself()
    {
        using var etcd = EtcdCluster.Start();
        etcd.Kill(0);
        using var main = StartOver(etcd);
        var ready = await GetAsync(main.BaseUri, "/readyz");
        Assert.Equal(503, ready.Status);
        (await GetAsync(main.BaseUri, "/kvs/a")).ShouldBe(503, Expected.StoreUnavailable);

        etcd.Restart(0);
        Assert.True(await Poll.UntilAsync(async () => (await GetAsync(main.BaseUri, "/readyz")).Status == 200, TimeSpan.FromSeconds(15)), main.Output);
        (await PutValueAsync(main.BaseUri, "/kvs/a", "1")).ShouldBe(201, Expected.Created);
    }

    [Fact]
    public async Task Metrics_show_the_stores_calls_latency_and_errors()
    {
        using var etcd = EtcdCluster.Start();
        using var main = StartOver(etcd);
        (await PutValueAsync(main.BaseUri, "/kvs/a", "1")).ShouldBe(201, Expected.Created);
        (await GetAsync(main.BaseUri, "/kvs/a")).ShouldBe(200, """{"result": "found", "value": 1}""");
        (await PutValueAsync(main.BaseUri, "/kvs/big", JsonSerializer.Serialize(new string('x', 1600 * 1024)))).ShouldBe(413, Expected.ValueTooLargeForStore);

        var metrics = (await GetAsync(main.BaseUri, "/metrics")).Body;
        Assert.Contains("kvs_store_calls_total{op=\"put\"} 2", metrics);
        Assert.Matches(@"kvs_store_duration_microseconds_total\{op=""get""\} [1-9]", metrics);
        Assert.Contains("kvs_store_errors_total{cause=\"too_large\"} 1", metrics);
        Assert.Contains("kvs_store_errors_total{cause=\"refused\"} 0", metrics);
        Assert.Contains("kvs_store_calls_total{op=\"lease_grant\"} 0", metrics);
        Assert.Contains("kvs_store_watches 0", metrics);
    }

    [Fact]
    public async Task Over_tls_with_a_client_certificate_main_serves_and_trusting_another_ca_it_does_not()
    {
        using var tls = new EtcdTls();
        using var etcd = EtcdCluster.Start(tls: tls);
        using var main = StartOver(etcd, ("KVS_STORE_CA_FILE", tls.CaFile), ("KVS_STORE_CERT_FILE", tls.ClientCertFile), ("KVS_STORE_KEY_FILE", tls.ClientKeyFile));
        Assert.StartsWith("etcd+https://", etcd.StoreSetting);
        (await PutValueAsync(main.BaseUri, "/kvs/secure", "true")).ShouldBe(201, Expected.Created);
        (await GetAsync(main.BaseUri, "/kvs/secure")).ShouldBe(200, """{"result": "found", "value": true}""");

        using var distrustful = StartOver(etcd, ("KVS_STORE_CA_FILE", tls.OtherCaFile), ("KVS_STORE_CERT_FILE", tls.ClientCertFile), ("KVS_STORE_KEY_FILE", tls.ClientKeyFile));
        (await GetAsync(distrustful.BaseUri, "/kvs/secure")).ShouldBe(503, Expected.StoreUnavailable);

        using var anonymous = StartOver(etcd, ("KVS_STORE_CA_FILE", tls.CaFile));
        (await GetAsync(anonymous.BaseUri, "/kvs/secure")).ShouldBe(503, Expected.StoreUnavailable);
        Assert.Equal(503, (await GetAsync(anonymous.BaseUri, "/readyz")).Status);
    }

    [Fact]
    public async Task With_etcd_auth_main_authenticates_from_its_password_file_and_a_wrong_password_is_not_ready()
    {
        using var etcd = EtcdCluster.Start();
        etcd.Call(0, "/v3/auth/user/add", new { name = "root", password = "root-secret" });
        etcd.Call(0, "/v3/auth/user/grant", new { user = "root", role = "root" });
        etcd.Call(0, "/v3/auth/user/add", new { name = "kvs", password = "kvs-secret" });
        etcd.Call(0, "/v3/auth/role/add", new { name = "kvs" });
        etcd.Call(0, "/v3/auth/role/grant", new { name = "kvs", perm = new { permType = "READWRITE", key = EtcdCluster.Base64("/kvs/"), range_end = EtcdCluster.Base64("/kvs0") } });
        etcd.Call(0, "/v3/auth/user/grant", new { user = "kvs", role = "kvs" });
        etcd.Call(0, "/v3/auth/enable", new { });

        var dir = Directory.CreateTempSubdirectory("kvs-etcd-auth-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "right"), "kvs-secret\n");
            File.WriteAllText(Path.Combine(dir, "wrong"), "guess\n");
            using var main = StartOver(etcd, ("KVS_STORE_USER", "kvs"), ("KVS_STORE_PASSWORD_FILE", Path.Combine(dir, "right")));
            (await PutValueAsync(main.BaseUri, "/kvs/a", "1")).ShouldBe(201, Expected.Created);
            (await GetAsync(main.BaseUri, "/kvs/a")).ShouldBe(200, """{"result": "found", "value": 1}""");
            Assert.True(await Poll.UntilAsync(async () => (await GetAsync(main.BaseUri, "/readyz")).Status == 200, TimeSpan.FromSeconds(5)));

            using var wrong = StartOver(etcd, ("KVS_STORE_USER", "kvs"), ("KVS_STORE_PASSWORD_FILE", Path.Combine(dir, "wrong")));
            (await GetAsync(wrong.BaseUri, "/kvs/a")).ShouldBe(503, Expected.StoreUnavailable);
            Assert.Equal(503, (await GetAsync(wrong.BaseUri, "/readyz")).Status);

            using var nobody = StartOver(etcd);
            (await GetAsync(nobody.BaseUri, "/kvs/a")).ShouldBe(503, Expected.StoreUnavailable);
            Assert.DoesNotContain("kvs-secret", main.Output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static ServerProcess StartOver(EtcdCluster etcd, params (string Name, string Value)[] env) =>
        ServerProcess.StartMain(env: [("KVS_STORE", etcd.StoreSetting), .. env]);
}
