using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
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

    /// <summary>
    /// A real burst: with the server stopped (SIGSTOP, so it accepts nothing), 4,096
    /// connections are opened at once and each sends a request. Every one must complete its
    /// handshake while the server is still stopped, which only a queue of 4,096 allows: the
    /// kernel drops a SYN that finds the queue full and the client tries again only after a
    /// second, and again later, never getting in while nothing is accepted. The kernel's own
    /// count of queued connections then says all of them wait there. Once the server runs
    /// again every request is answered, with no refusal and no reset.
    /// </summary>
    [Fact]
    public async Task Listen_queue_holds_a_burst_of_4096_connections()
    {
        const int burst = 4096;
        using var main = ServerProcess.StartMain();
        // Both ends hold a descriptor per connection: the test process and the server.
        Assert.True(OpenFileLimit("self") >= burst + 512, $"this test needs {burst + 512} open files (ulimit -n), has {OpenFileLimit("self")}");
        Assert.True(OpenFileLimit(main.Pid.ToString()) >= burst + 512, $"the server needs {burst + 512} open files, has {OpenFileLimit(main.Pid.ToString())}");
        // The configured queue, as the kernel holds it: for a listening socket ss shows the limit in Send-Q.
        Assert.All(ListenLines(main.Port), line => Assert.Equal("4096", line[2]));

        var sockets = new Socket?[burst];
        main.SendSignal("STOP");
        try
        {
            using (var connecting = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
            {
                var clock = Stopwatch.StartNew();
                var outcomes = await Task.WhenAll(Enumerable.Range(0, burst).Select(async i =>
                {
                    var socket = sockets[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    try
                    {
                        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, main.Port), connecting.Token);
                        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /kvs/burst-{i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), SocketFlags.None);
                        return "connected";
                    }
                    catch (OperationCanceledException)
                    {
                        return "no handshake while the server was stopped";
                    }
                    catch (SocketException e)
                    {
                        return e.SocketErrorCode.ToString();
                    }
                }));
                var failures = outcomes.Where(o => o != "connected").GroupBy(o => o).Select(g => $"{g.Count()} {g.Key}").ToList();
                Assert.True(failures.Count == 0, $"of {burst} connections opened at once: {string.Join(", ", failures)} ({clock.Elapsed.TotalMilliseconds:F0} ms)");
            }
            // All of them wait in the kernel's queue (Recv-Q of the LISTEN line: connections not yet accepted).
            var queued = 0;
            Assert.True(Poll.Until(() => (queued = ListenLines(main.Port).Sum(line => int.Parse(line[1]))) >= burst, TimeSpan.FromSeconds(5)),
                $"{queued} connections queued, want {burst}");
        }
        finally
        {
            main.SendSignal("CONT");
        }

        try
        {
            using var answering = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var answers = await Task.WhenAll(sockets.Select(async socket =>
            {
                var received = new MemoryStream();
                var buffer = new byte[1024];
                try
                {
                    int n;
                    while ((n = await socket!.ReceiveAsync(buffer, SocketFlags.None, answering.Token)) > 0)
                        received.Write(buffer, 0, n);
                }
                catch (OperationCanceledException)
                {
                    return "no answer within the bound";
                }
                catch (SocketException e)
                {
                    return e.SocketErrorCode.ToString();
                }
                var text = Encoding.UTF8.GetString(received.ToArray());
                var body = text.IndexOf("\r\n\r\n", StringComparison.Ordinal) is var end and >= 0 ? text[(end + 4)..] : "";
                return text.StartsWith("HTTP/1.1 404 ", StringComparison.Ordinal) && body.Length > 0 && JsonNode.DeepEquals(JsonNode.Parse(Expected.KeyNotFound), JsonNode.Parse(body))
                    ? "answered" : "wrong answer: " + text;
            }));
            var failures = answers.Where(a => a != "answered").GroupBy(a => a).Select(g => $"{g.Count()} {g.Key}").ToList();
            Assert.True(failures.Count == 0, $"of {burst} queued requests: {string.Join(", ", failures.Take(5))}");
        }
        finally
        {
            foreach (var socket in sockets)
                socket?.Dispose();
        }
    }

    /// <summary>The LISTEN lines for a port, from ss, split into columns (State Recv-Q Send-Q ...).</summary>
    private static List<string[]> ListenLines(int port)
    {
        using var ss = Process.Start(new ProcessStartInfo("ss", ["-Hltn", $"sport = :{port}"]) { RedirectStandardOutput = true })!;
        var lines = ss.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(ss.WaitForExit(5000));
        Assert.NotEmpty(lines);
        return [.. lines.Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))];
    }

    /// <summary>The soft limit on open files of a process ("self" or a pid), from /proc.</summary>
    private static long OpenFileLimit(string process)
    {
        var line = File.ReadLines($"/proc/{process}/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var soft = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        return soft == "unlimited" ? long.MaxValue : long.Parse(soft);
    }

    private static bool WaitFor(Func<bool> condition) => Poll.Until(condition, TimeSpan.FromSeconds(5));
}
