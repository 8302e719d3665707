using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Faults;

/// <summary>
/// A slow main within the bound is waited for; one beyond it, or a silent one, costs the
/// client KVS_FORWARD_TIMEOUT_MS and a 503, and the forwarder lets go of the connections.
/// </summary>
[Collection(TimingCollection.Name), Trait("Category", "Faults")]
public sealed class SlowMainTests
{

    [Fact]
    public async Task Main_slower_than_usual_but_within_the_bound_is_waited_for()
    {
        using var main = new FakeMain(TimeSpan.FromMilliseconds(300));
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        Assert.Equal(200, (await DeleteAsync(forwarder.BaseUri, "/kvs/a")).Status);
    }

    [Fact]
    public async Task Main_slower_than_the_bound_gives_503_at_the_bound()
    {
        using var main = new FakeMain(TimeSpan.FromSeconds(5));
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        var (answer, elapsed) = ForwardBound.TimedGet(forwarder.Port, "/kvs/a");
        answer.ShouldBe(503, Expected.CannotForward);
        ForwardBound.AtTheBound(elapsed, ForwardBound.Default);
    }

    [Fact]
    public async Task Silent_main_under_load_gives_every_client_503_and_releases_the_connections()
    {
        using var main = new FakeMain(delay: null);
        using var forwarder = ServerProcess.StartForwarder(main.Address, null, ("KVS_FORWARD_TIMEOUT_MS", "500"));
        await Task.Delay(200);
        var filesBefore = forwarder.OpenFiles;

        var answers = ForwardBound.TimedGets(forwarder.Port, [.. Enumerable.Range(0, 64).Select(i => $"/kvs/k{i}")]);
        Assert.All(answers, a => a.Answer.ShouldBe(503, Expected.CannotForward));
        // Each of the 64 at the bound: none waits behind another.
        Assert.All(answers, a => ForwardBound.AtTheBound(a.Elapsed, TimeSpan.FromMilliseconds(500)));

        // The forwarder closes what it gave up on: main sees every connection go, and the
        // forwarder's own descriptors return to where they were.
        Assert.True(Poll.Until(() => main.OpenConnections == 0, TimeSpan.FromSeconds(5)), $"{main.OpenConnections} still open at main");
        Assert.True(Poll.Until(() => forwarder.OpenFiles <= filesBefore + 8, TimeSpan.FromSeconds(5)),
            $"forwarder files {filesBefore} -> {forwarder.OpenFiles}");
        // The first few went out at once, one per pipelining lane; the others queued behind
        // them and, as main never answered, were never sent: none of the 64 reached main twice.
        Assert.InRange(main.Heads.Count, 1, 64);
        Assert.Equal(main.Heads.Count, main.Heads.Distinct().Count());
    }

    [Fact]
    public async Task A_client_that_leaves_stops_the_request_to_main()
    {
        using var main = new FakeMain(delay: null);
        // A deadline far beyond the test: only the client's leaving can end the upstream request.
        using var forwarder = ServerProcess.StartForwarder(main.Address, null, ("KVS_FORWARD_TIMEOUT_MS", "60000"));

        var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(forwarder.BaseUri.Host, forwarder.BaseUri.Port);
        await client.GetStream().WriteAsync("GET /kvs/abandoned HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
        Assert.True(Poll.Until(() => main.Heads.Any(h => h.StartsWith("GET /kvs/abandoned ", StringComparison.Ordinal)), TimeSpan.FromSeconds(5)),
            "the request never reached main");
        var openAtMain = main.OpenConnections; // the forwarded request's, and the readiness probe's

        client.Dispose();
        Assert.True(Poll.Until(() => main.OpenConnections < openAtMain, TimeSpan.FromSeconds(5)),
            $"main still holds {main.OpenConnections} connections 5 s after the client left (deadline 60 s)");
    }
}
