using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Processes;

/// <summary>Start-up line, configuration errors, and stopping on SIGTERM/SIGINT.</summary>
[Collection(TimingCollection.Name), Trait("Category", "Processes")]
public sealed class LifecycleTests
{
    [Fact]
    public void Start_up_logs_one_line_with_role_and_address()
    {
        using var main = ServerProcess.StartMain();
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        Assert.True(WaitFor(() => main.Output.Contains("role=main")), main.Output);
        Assert.True(WaitFor(() => forwarder.Output.Contains($"forwarding-to={main.Address}")), forwarder.Output);
        Assert.Contains($"127.0.0.1:{main.Port}", main.Output);
        Assert.Single(main.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("FORWARDING_ADDRESS", "http://")]
    [InlineData("FORWARDING_ADDRESS", "host:99999")]
    [InlineData("FORWARDING_ADDRESS", "host:port")]
    [InlineData("KVS_FORWARD_TIMEOUT_MS", "soon")]
    [InlineData("KVS_MAX_BODY_BYTES", "-1")]
    public void Bad_setting_stops_start_up_with_one_clear_message(string name, string value)
    {
        using var server = ServerProcess.Launch([(name, value)], ["--urls", $"http://127.0.0.1:{FreePort.Next()}"]);
        Assert.True(server.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, server.ExitCode);
        Assert.True(WaitFor(() => server.Output.Contains(name)), server.Output);
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    [InlineData("HUP")]
    public void Idle_server_stops_at_once_on_signal_and_says_so_once(string signal)
    {
        using var main = ServerProcess.StartMain();
        var clock = Stopwatch.StartNew();
        main.SendSignal(signal);
        Assert.True(main.WaitForExitAndOutput(TimeSpan.FromSeconds(5)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
        Assert.Equal(0, main.ExitCode);
        var stopLines = main.Output.Split('\n').Where(line => line.Contains("AotKvs stopping on", StringComparison.Ordinal)).ToList();
        Assert.Contains($"AotKvs stopping on SIG{signal}:", Assert.Single(stopLines));
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("HUP")]
    public async Task In_flight_request_finishes_after_a_stop_signal(string signal)
    {
        using var main = ServerProcess.StartMain();
        var body = Encoding.UTF8.GetBytes("""{"value": "in flight"}""");
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", main.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"PUT /kvs/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n"));
        await stream.WriteAsync(body.AsMemory(0, 5));
        await Task.Delay(100); // the server is now inside the request, waiting for the rest of the body

        main.SendSignal(signal);
        await Task.Delay(200);
        await stream.WriteAsync(body.AsMemory(5));

        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var n = await stream.ReadAsync(buffer, timeout.Token);
        var answer = Encoding.ASCII.GetString(buffer, 0, n);
        Assert.StartsWith("HTTP/1.1 201", answer);
        Assert.True(main.WaitForExit(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, main.ExitCode);
    }

    [Fact]
    public void Listen_queue_holds_a_burst_of_4096_connections()
    {
        using var main = ServerProcess.StartMain();
        using var ss = Process.Start(new ProcessStartInfo("ss", ["-Hltn", $"sport = :{main.Port}"]) { RedirectStandardOutput = true })!;
        var lines = ss.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(ss.WaitForExit(5000));
        Assert.NotEmpty(lines);
        // For a listening socket, ss shows the accept-queue limit in the Send-Q column.
        Assert.All(lines, line => Assert.Equal("4096", line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2]));
    }

    private static bool WaitFor(Func<bool> condition) => Poll.Until(condition, TimeSpan.FromSeconds(5));
}
