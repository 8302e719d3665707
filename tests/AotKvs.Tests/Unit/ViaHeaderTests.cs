using AotKvs.Forwarding;
using Microsoft.Extensions.Primitives;
using Xunit;

namespace AotKvs.Tests.Unit;

[Trait("Category", "Unit")]
public sealed class ViaHeaderTests
{
    private readonly ViaHeader _via = ViaHeader.ForNewInstance();

    [Fact]
    public void A_request_without_via_is_no_loop() => Assert.False(_via.IsLoop(StringValues.Empty));

    [Fact]
    public void A_request_this_instance_stamped_is_a_loop() => Assert.True(_via.IsLoop(_via.Append(StringValues.Empty)));

    [Fact]
    public void Its_own_entry_is_found_after_others_on_several_lines() =>
        Assert.True(_via.IsLoop(new StringValues(["1.0 fred, 1.1 p.example.com (Apache/1.1)", _via.Append("HTTP/1.1 x")])));

    [Fact]
    public void Another_instance_is_no_loop() => Assert.False(_via.IsLoop(ViaHeader.ForNewInstance().Append(StringValues.Empty)));

    [Theory]
    [InlineData(15, false)]
    [InlineData(16, true)]
    public void Sixteen_hops_are_too_many(int hops, bool loop) =>
        Assert.Equal(loop, _via.IsLoop(string.Join(", ", Enumerable.Range(0, hops).Select(i => $"1.1 p{i}"))));

    [Fact]
    public void Appends_after_what_was_received() =>
        Assert.StartsWith("1.1 a, 1.1 b, 1.1 aotkvs-", _via.Append(new StringValues(["1.1 a", "1.1 b"])));

    [Fact]
    public void Nothing_received_is_just_this_instance() =>
        Assert.Matches("^1\\.1 aotkvs-[0-9a-f]{12}$", _via.Append(StringValues.Empty));

    [Fact]
    public void Empty_and_padded_entries_are_not_hops()
    {
        var padded = string.Join(" , ,", Enumerable.Range(0, 15).Select(i => $" 1.1 p{i} "));
        Assert.False(_via.IsLoop(padded));
        Assert.True(_via.IsLoop(padded + ",  " + _via.Append(StringValues.Empty) + "  "));
    }
}
