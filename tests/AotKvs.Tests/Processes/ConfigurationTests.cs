using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Processes;

/// <summary>Flags, environment variables, --help, --version and --healthcheck of the published binary.</summary>
[Trait("Category", "Processes")]
public sealed class ConfigurationTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    [Fact]
    public void Help_lists_every_flag_and_variable_and_exits_0()
    {
        using var run = ServerProcess.Run([], "--help");
        Assert.Equal(0, run.ExitCode);
        foreach (var name in new[] { "--port", "KVS_PORT", "--forwarding-address", "FORWARDING_ADDRESS", "--forward-timeout-ms",
                     "KVS_FORWARD_TIMEOUT_MS", "--max-body-bytes", "KVS_MAX_BODY_BYTES", "--log-format", "--log-level", "KVS_ACCESS_LOG", "--healthcheck" })
            Assert.Contains(name, run.Output);
    }

    [Fact]
    public void Version_prints_the_version_and_exits_0()
    {
        using var run = ServerProcess.Run([], "--version");
        Assert.Equal(0, run.ExitCode);
        Assert.Matches(@"^AotKvs \d+\.\d+\.\d+\s*$", run.Output);
    }

    [Theory]
    [InlineData("--port", "70000", "KVS_PORT")]
    [InlineData("--port", "eighty", "KVS_PORT")]
    [InlineData("--forwarding-address", "host:port", "FORWARDING_ADDRESS")]
    [InlineData("--forward-timeout-ms", "0", "KVS_FORWARD_TIMEOUT_MS")]
    [InlineData("--max-body-bytes", "-1", "KVS_MAX_BODY_BYTES")]
    [InlineData("--log-format", "xml", "KVS_LOG_FORMAT")]
    [InlineData("--log-level", "loud", "KVS_LOG_LEVEL")]
    [InlineData("--access-log", "maybe", "KVS_ACCESS_LOG")]
    [InlineData("--ready-probe-ms", "0", "KVS_READY_PROBE_MS")]
    public void Bad_flag_value_stops_start_up_with_one_message_naming_the_setting(string flag, string value, string setting)
    {
        using var run = ServerProcess.Run([], flag, value);
        Assert.Equal(2, run.ExitCode);
        var lines = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(setting, lines[0]);
        Assert.Contains(value, lines[0]);
    }

    [Theory]
    [InlineData("KVS_PORT", "0")]
    [InlineData("KVS_LOG_FORMAT", "yaml")]
    [InlineData("KVS_LOG_LEVEL", "verbose")]
    [InlineData("FORWARDING_ADDRESS", "10.10.0.2:http")]
    public void Bad_environment_value_stops_start_up_with_exit_code_2(string name, string value)
    {
        using var run = ServerProcess.Run([(name, value)]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(name, run.Output);
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("positional")]
    [InlineData("--port")]
    public void Unknown_flag_or_missing_value_stops_start_up_with_exit_code_2(string arg)
    {
        using var run = ServerProcess.Run([], arg);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(arg, run.Output);
    }

    [Fact]
    public void Port_in_use_stops_start_up_with_one_message_and_exit_code_2()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        using var run = ServerProcess.Run([], "--urls", $"http://127.0.0.1:{port}");
        Assert.Equal(2, run.ExitCode);
        // One line in all: ours, without the host's own entry and its stack trace.
        var line = Assert.Single(run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("AotKvs: cannot listen:", line);
    }

    [Fact]
    public async Task Port_flag_sets_the_listening_port()
    {
        var port = FreePort.Next();
        using var server = StartAndWait([], port, "--port", port.ToString());
        Assert.Equal(200, (await GetAsync(server.BaseUri, "/healthz")).Status);
    }

    [Fact]
    public async Task KVS_PORT_sets_the_listening_port_and_the_flag_wins_over_it()
    {
        var envPort = FreePort.Next();
        using var byEnv = StartAndWait([("KVS_PORT", envPort.ToString())], envPort);
        Assert.Equal(200, (await GetAsync(byEnv.BaseUri, "/healthz")).Status);

        var flagPort = FreePort.Next();
        using var byFlag = StartAndWait([("KVS_PORT", FreePort.Next().ToString())], flagPort, $"--port={flagPort}");
        Assert.Equal(200, (await GetAsync(byFlag.BaseUri, "/healthz")).Status);
    }

    [Fact]
    public async Task ASPNETCORE_HTTP_PORTS_still_overrides_the_default_port()
    {
        var port = FreePort.Next();
        using var server = StartAndWait([("ASPNETCORE_HTTP_PORTS", port.ToString())], port);
        Assert.Equal(200, (await GetAsync(server.BaseUri, "/healthz")).Status);
    }

    [Fact]
    public async Task ASPNETCORE_URLS_still_overrides_the_default_port()
    {
        var port = FreePort.Next();
        using var server = StartAndWait([("ASPNETCORE_URLS", $"http://127.0.0.1:{port}")], port);
        Assert.Equal(200, (await GetAsync(server.BaseUri, "/healthz")).Status);
    }

    [Fact]
    public async Task Forwarding_address_flag_makes_a_forwarder_and_overrides_the_variable()
    {
        using var main = ServerProcess.StartMain();
        var port = FreePort.Next();
        using var forwarder = StartAndWait([("FORWARDING_ADDRESS", "127.0.0.1:1")], port,
            "--urls", $"http://127.0.0.1:{port}", "--forwarding-address", main.Address);
        var key = UniqueKey();
        (await PutValueAsync(forwarder.BaseUri, $"/kvs/{key}", "1")).ShouldBe(201, Expected.Created);
        (await GetAsync(main.BaseUri, $"/kvs/{key}")).ShouldBe(200, """{"result": "found", "value": 1}""");
    }

    [Fact]
    public async Task Max_body_bytes_flag_limits_request_bodies()
    {
        var port = FreePort.Next();
        using var server = StartAndWait([], port, "--urls", $"http://127.0.0.1:{port}", "--max-body-bytes", "64");
        (await PutValueAsync(server.BaseUri, "/kvs/small", "1")).ShouldBe(201, Expected.Created);
        (await PutValueAsync(server.BaseUri, "/kvs/big", $"\"{new string('x', 100)}\"")).ShouldBeJsonError(413);
    }

    [Fact]
    public void Healthcheck_exits_0_when_the_configured_port_answers()
    {
        // As in the container: the port comes only from ASPNETCORE_HTTP_PORTS.
        var port = FreePort.Next();
        (string, string)[] env = [("ASPNETCORE_HTTP_PORTS", port.ToString())];
        using var server = StartAndWait(env, port);
        using var check = ServerProcess.Run(env, "--healthcheck");
        Assert.Equal(0, check.ExitCode);

        using var byFlag = ServerProcess.Run([], "--healthcheck", "--port", port.ToString());
        Assert.Equal(0, byFlag.ExitCode);
    }

    [Fact]
    public void Healthcheck_exits_1_when_nothing_answers()
    {
        using var check = ServerProcess.Run([("KVS_PORT", FreePort.Next().ToString())], "--healthcheck");
        Assert.Equal(1, check.ExitCode);
        Assert.Contains("unhealthy", check.Output);
    }

    [Fact]
    public void Healthcheck_exits_1_within_about_2_seconds_when_the_server_hangs()
    {
        using var main = ServerProcess.StartMain();
        main.SendSignal("STOP");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var check = ServerProcess.Run([], "--healthcheck", "--urls", $"http://127.0.0.1:{main.Port}");
        Assert.Equal(1, check.ExitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"took {clock.Elapsed}");
    }

    private static ServerProcess StartAndWait((string Name, string Value)[] env, int port, params string[] args)
    {
        var server = ServerProcess.Launch(env, args, port);
        server.WaitUntilListening(Bound);
        return server;
    }
}
