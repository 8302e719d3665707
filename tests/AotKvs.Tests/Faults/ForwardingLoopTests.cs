using System.Diagnostics;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Faults;

/// <summary>
/// A forwarder pointed at itself, or two pointed at each other, answer 508 at once instead
/// of multiplying connections; legitimate chains still work.
/// </summary>
[Collection(TimingCollection.Name), Trait("Category", "Faults")]
public sealed class ForwardingLoopTests
{

    [Fact]
    public async Task Forwarder_pointed_at_itself_answers_508_without_piling_up_connections()
    {
        var port = FreePort.Next();
        using var forwarder = ServerProcess.StartForwarder($"127.0.0.1:{port}", port);
        var before = forwarder.OpenFiles;

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 20; i++)
            (await PutValueAsync(forwarder.BaseUri, "/kvs/a", "1")).ShouldBe(508, Expected.LoopDetected);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        Assert.True(forwarder.OpenFiles < before + 20, $"open files {before} -> {forwarder.OpenFiles}");
    }

    [Fact]
    public async Task Two_forwarders_pointed_at_each_other_answer_508()
    {
        int portA = FreePort.Next(), portB = FreePort.Next();
        using var a = ServerProcess.StartForwarder($"127.0.0.1:{portB}", portA);
        using var b = ServerProcess.StartForwarder($"127.0.0.1:{portA}", portB);
        (await GetAsync(a.BaseUri, "/kvs/a")).ShouldBe(508, Expected.LoopDetected);
        (await DeleteAsync(b.BaseUri, "/kvs/a")).ShouldBe(508, Expected.LoopDetected);
    }

    [Fact]
    public async Task Request_that_already_made_too_many_hops_is_answered_508()
    {
        using var fake = new FakeMain(TimeSpan.Zero);
        using var forwarder = ServerProcess.StartForwarder(fake.Address);
        var via = string.Join(", ", Enumerable.Range(0, 16).Select(i => $"1.1 proxy{i}"));
        var raw = RawHttp.Request("GET", "/kvs/a", forwarder.BaseUri);
        var withVia = System.Text.Encoding.ASCII.GetBytes(System.Text.Encoding.ASCII.GetString(raw).Replace("\r\n\r\n", $"\r\nVia: {via}\r\n\r\n"));
        (await RawHttp.SendAsync(forwarder.BaseUri, withVia)).ShouldBe(508, Expected.LoopDetected);
        Assert.Empty(fake.Heads);
    }

    [Fact]
    public async Task Chain_of_three_forwarders_still_reaches_main_and_stamps_one_via_entry_each()
    {
        using var fake = new FakeMain(TimeSpan.Zero);
        using var first = ServerProcess.StartForwarder(fake.Address);
        using var second = ServerProcess.StartForwarder(first.Address);
        using var third = ServerProcess.StartForwarder(second.Address);
        Assert.Equal(200, (await DeleteAsync(third.BaseUri, "/kvs/a")).Status);

        var via = Assert.Single(fake.Heads).Split("\r\n").Single(l => l.StartsWith("Via:", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(3, via.Split(',').Length);
    }

}
