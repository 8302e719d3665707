using AotKvs.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>The request target as sent: origin-form kept, absolute-form reduced to its path, the rest refused.</summary>
[Trait("Category", "Unit")]
public sealed class RequestTargetTests
{
    [Theory]
    [InlineData("/kvs/a%20b?x=1", "/kvs/a%20b?x=1")]
    [InlineData("/", "/")]
    [InlineData("http://host/kvs/a", "/kvs/a")]
    [InlineData("http://host:8090/kvs/a?x=1", "/kvs/a?x=1")]
    [InlineData("http://host", "/")]
    [InlineData("http://host?x=1", "/?x=1")]
    [InlineData("http://host/", "/")]
    [InlineData("https://other.example/kvs/%2F", "/kvs/%2F")]
    [InlineData("://host/kvs/a", "/kvs/a")]
    [InlineData("*", null)]
    [InlineData("kvs/a", null)]
    [InlineData("host:8090", null)]
    public void Path_and_query_come_from_the_raw_target(string raw, string? expected)
    {
        var context = new DefaultHttpContext();
        context.Features.Get<IHttpRequestFeature>()!.RawTarget = raw;
        Assert.Equal(expected, RequestTarget.PathAndQuery(context));
    }

    [Theory]
    [InlineData("/kvs/a?x=1", "/kvs/a")]
    [InlineData("/kvs/a", "/kvs/a")]
    [InlineData("/kvs/a?", "/kvs/a")]
    [InlineData("?x", "")]
    public void Path_drops_the_query(string pathAndQuery, string expected) =>
        Assert.Equal(expected, RequestTarget.Path(pathAndQuery).ToString());
}
