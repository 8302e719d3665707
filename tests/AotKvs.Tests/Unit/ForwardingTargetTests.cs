using AotKvs.Configuration;
using Xunit;

namespace AotKvs.Tests.Unit;

[Trait("Category", "Unit")]
public sealed class ForwardingTargetTests
{
    [Theory]
    [InlineData("10.10.0.2:8090", "10.10.0.2:8090")]
    [InlineData("main-instance:8091", "main-instance:8091")]
    [InlineData("[::1]:8090", "[::1]:8090")]
    [InlineData("10.10.0.2", "10.10.0.2:8090")] // no port: the service's own default
    [InlineData("http://10.10.0.2:80/", "10.10.0.2:80")]
    [InlineData(" host:1 ", "host:1")]
    public void Parses_host_and_port(string address, string expected)
    {
        Assert.True(ForwardingTarget.TryParse(address, out var target, out var problem), problem);
        Assert.Equal(expected, target!.Display);
    }

    [Theory]
    [InlineData("host:99999")]
    [InlineData("host:0")]
    [InlineData("host:port")]
    [InlineData("host:1/path")]
    [InlineData("user@host:1")]
    [InlineData("::1:8090")]
    public void Refuses_what_is_not_host_port(string address)
    {
        Assert.False(ForwardingTarget.TryParse(address, out _, out var problem));
        Assert.Contains(address, problem);
    }

    [Fact]
    public void Keeps_the_path_and_query_exactly()
    {
        Assert.True(ForwardingTarget.TryParse("127.0.0.1:1", out var target, out _));
        Assert.Equal("/kvs/a%2Fb/../%7e?x=%20", target!.UriFor("/kvs/a%2Fb/../%7e?x=%20").PathAndQuery);
    }

    [Theory]
    [InlineData("host:65535", "host:65535")]
    [InlineData("host:1", "host:1")]
    public void Port_range_ends_are_accepted(string address, string expected)
    {
        Assert.True(ForwardingTarget.TryParse(address, out var target, out var problem), problem);
        Assert.Equal(expected, target!.ToString());
    }

    [Theory]
    [InlineData("host:1#frag")]
    [InlineData("host:1?q")]
    public void Fragments_and_queries_are_not_host_port(string address) =>
        Assert.False(ForwardingTarget.TryParse(address, out _, out _));
}
