using System.Buffers;
using System.Text;
using AotKvs.Forwarding;
using AotKvs.Forwarding.Client;
using Microsoft.Extensions.Primitives;
using Xunit;

namespace AotKvs.Tests.Unit;

[Trait("Category", "Unit")]
public sealed class ViaHeaderTests
{
    private readonly ViaHeader _via = ViaHeader.ForNewInstance();

    /// <summary>The Via a forwarder with <paramref name="via"/> (this test's by default) really sends to main, read from the request head's bytes.</summary>
    private string Sent(StringValues received, ViaHeader? via = null)
    {
        var head = new RequestHead("main:8090", (via ?? _via).Entry);
        var bytes = head.Write("GET", "/kvs/a", received, default, null, default, hasBody: false, tag: 1, keepAlive: true, bodyInline: true, out var length);
        try
        {
            var lines = Encoding.ASCII.GetString(bytes, 0, length).Split("\r\n");
            return Assert.Single(lines, line => line.StartsWith("Via: ", StringComparison.Ordinal))["Via: ".Length..];
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    [Fact]
    public void A_request_without_via_is_no_loop() => Assert.False(_via.IsLoop(StringValues.Empty));

    [Fact]
    public void A_request_this_instance_stamped_is_a_loop() => Assert.True(_via.IsLoop(Sent(StringValues.Empty)));

    [Fact]
    public void Its_own_entry_is_found_after_others_on_several_lines() =>
        Assert.True(_via.IsLoop(new StringValues(["1.0 fred, 1.1 p.example.com (Apache/1.1)", Sent("HTTP/1.1 x")])));

    [Fact]
    public void Another_instance_is_no_loop() => Assert.False(_via.IsLoop(Sent(StringValues.Empty, ViaHeader.ForNewInstance())));

    [Theory]
    [InlineData(15, false)]
    [InlineData(16, true)]
    public void Sixteen_hops_are_too_many(int hops, bool loop) =>
        Assert.Equal(loop, _via.IsLoop(string.Join(", ", Enumerable.Range(0, hops).Select(i => $"1.1 p{i}"))));

    [Fact]
    public void Appends_after_what_was_received() =>
        Assert.StartsWith("1.1 a, 1.1 b, 1.1 aotkvs-", Sent(new StringValues(["1.1 a", "1.1 b"])));

    [Fact]
    public void Nothing_received_is_just_this_instance() =>
        Assert.Matches("^1\\.1 aotkvs-[0-9a-f]{12}$", Sent(StringValues.Empty));

    [Fact]
    public void Empty_and_padded_entries_are_not_hops()
    {
        var padded = string.Join(" , ,", Enumerable.Range(0, 15).Select(i => $" 1.1 p{i} "));
        Assert.False(_via.IsLoop(padded));
        Assert.True(_via.IsLoop(padded + ",  " + Sent(StringValues.Empty) + "  "));
    }

    [Theory]
    [InlineData("")]
    [InlineData("1.1 a")]
    [InlineData("1.1 a, 1.1 b|1.0 c")] // two Via lines
    public void The_length_checked_before_sending_is_the_length_sent(string lines)
    {
        var received = new StringValues(lines.Split('|', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(Sent(received).Length, _via.AppendedLength(received));
    }
}
