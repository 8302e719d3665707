using System.Net;
using System.Net.Sockets;
using System.Text;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Processes;

/// <summary>
/// SPEC "Forwarding instance when it cannot get an answer": each test starts its own
/// processes, breaks main in one way, and expects the 503 in time and recovery after.
/// </summary>
[Collection(TimingCollection.Name), Trait("Category", "Processes")]
public sealed class ForwardingFailureTests
{

    [Fact]
    public async Task Main_refusing_connections_gives_503_at_once()
    {
        using var forwarder = ServerProcess.StartForwarder($"127.0.0.1:{FreePort.Next()}");
        (await GetAsync(forwarder.BaseUri, "/kvs/warm-up")).ShouldBe(503, Expected.CannotForward); // pages the fresh process in
        var (answer, elapsed) = await TimedGetAsync(forwarder, "/kvs/a");
        answer.ShouldBe(503, Expected.CannotForward);
        Assert.True(elapsed < TimeSpan.FromMilliseconds(500), $"took {elapsed}");
    }

    [Fact]
    public async Task Main_killed_gives_503_and_restarted_main_answers_the_very_next_request()
    {
        var port = FreePort.Next();
        var main = ServerProcess.StartMain(port);
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        (await PutValueAsync(forwarder.BaseUri, "/kvs/a", "1")).ShouldBe(201, Expected.Created);

        main.Kill();
        main.Dispose();
        var (answer, elapsed) = await TimedGetAsync(forwarder, "/kvs/a");
        answer.ShouldBe(503, Expected.CannotForward);
        ForwardBound.WithinTheBound(elapsed, ForwardBound.Default);

        using var restarted = ServerProcess.StartMain(port);
        (await GetAsync(forwarder.BaseUri, "/kvs/a")).ShouldBe(404, Expected.KeyNotFound);
    }

    [Fact]
    public async Task Main_restarted_while_forwarder_idle_never_surfaces_a_stale_connection()
    {
        var port = FreePort.Next();
        var main = ServerProcess.StartMain(port);
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        // Several pooled connections to the first main.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => PutValueAsync(forwarder.BaseUri, $"/kvs/k{i}", "1")));

        main.Kill();
        main.Dispose();
        using var restarted = ServerProcess.StartMain(port);
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => GetAsync(forwarder.BaseUri, $"/kvs/k{i}")));
        Assert.All(answers, a => a.ShouldBe(404, Expected.KeyNotFound));
    }

    [Fact]
    public async Task Main_that_vanished_mid_connection_gives_503_within_the_bound_then_recovers()
    {
        // A stopped process keeps its sockets: requests on pooled connections get no answer
        // and no reset, which is how a stopped container's address looks from a forwarder.
        using var main = ServerProcess.StartMain();
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        (await PutValueAsync(forwarder.BaseUri, "/kvs/a", "1")).ShouldBe(201, Expected.Created);

        main.SendSignal("STOP");
        var (answer, elapsed) = await TimedGetAsync(forwarder, "/kvs/a");
        answer.ShouldBe(503, Expected.CannotForward);
        ForwardBound.AtTheBound(elapsed, ForwardBound.Default);

        main.SendSignal("CONT");
        (await GetAsync(forwarder.BaseUri, "/kvs/a")).ShouldBe(200, """{"result": "found", "value": 1}""");
    }

    [Fact]
    public async Task Silent_main_gives_503_within_the_configured_bound()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start(); // accepts into the backlog, never answers
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        using var forwarder = ServerProcess.StartForwarder($"127.0.0.1:{port}", null, ("KVS_FORWARD_TIMEOUT_MS", "300"));
        (await GetAsync(forwarder.BaseUri, "/kvs/warm-up")).ShouldBe(503, Expected.CannotForward); // pages the fresh process in

        var (answer, elapsed) = await TimedGetAsync(forwarder, "/kvs/a");
        answer.ShouldBe(503, Expected.CannotForward);
        ForwardBound.AtTheBound(elapsed, TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task Main_dropping_the_connection_mid_answer_gives_503()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var halfAnswer = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            _ = await stream.ReadAsync(new byte[4096]); // the request; its content does not matter
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"result\":"));
            client.Client.Close(); // cut short: 90 bytes never come
        });
        using var forwarder = ServerProcess.StartForwarder($"127.0.0.1:{port}");

        (await GetAsync(forwarder.BaseUri, "/kvs/a")).ShouldBe(503, Expected.CannotForward);
        await halfAnswer.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Chain_of_forwarders_passes_the_503_back_unchanged()
    {
        using var first = ServerProcess.StartForwarder($"127.0.0.1:{FreePort.Next()}");
        using var second = ServerProcess.StartForwarder(first.Address);
        (await GetAsync(second.BaseUri, "/kvs/warm-up")).ShouldBe(503, Expected.CannotForward);
        var (answer, elapsed) = await TimedGetAsync(second, "/kvs/a");
        answer.ShouldBe(503, Expected.CannotForward);
        Assert.True(elapsed < TimeSpan.FromMilliseconds(500), $"took {elapsed}");
    }

    private static Task<(KvsAnswer Answer, TimeSpan Elapsed)> TimedGetAsync(ServerProcess server, string path) =>
        Task.FromResult(ForwardBound.TimedGet(server.Port, path));
}
