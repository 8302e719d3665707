using System.Text;
using AotKvs.Forwarding.Client;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The request headers a forwarder passes to main unchanged (If-Match, If-None-Match, Prefer,
/// Kvs-Ttl): every line of each, in order, each value in UTF-8, in exactly as many bytes and
/// lines as it says it takes (the head is sized, and refused as too large, from those figures).
/// </summary>
[Trait("Category", "Unit")]
public sealed class RelayedRequestHeadersTests
{
    /// <summary>What <paramref name="relayed"/> writes into a buffer of exactly its <see cref="RelayedRequestHeaders.Length"/>.</summary>
    private static string Written(RelayedRequestHeaders relayed)
    {
        var buffer = new byte[relayed.Length];
        Assert.Equal(buffer.Length, relayed.Write(buffer));
        return Encoding.UTF8.GetString(buffer);
    }

    [Fact]
    public void Every_line_of_every_relayed_header_is_written_in_order()
    {
        var headers = new HeaderDictionary
        {
            ["kvs-ttl"] = "60",
            ["Prefer"] = new StringValues(["respond-async, wait=10", "return=minimal; x=\"y\""]),
            ["If-None-Match"] = new StringValues(["\"c\"", "W/\"d\""]),
            ["If-Match"] = "*",
            ["Accept"] = "application/json", // not relayed
            ["Authorization"] = "Bearer x",   // not yet
        };

        var relayed = new RelayedRequestHeaders(headers);

        Assert.Equal(
            "If-Match: *\r\nIf-None-Match: \"c\"\r\nIf-None-Match: W/\"d\"\r\n" +
            "Prefer: respond-async, wait=10\r\nPrefer: return=minimal; x=\"y\"\r\nKvs-Ttl: 60\r\n", Written(relayed));
        Assert.Equal(6, relayed.Lines);
    }

    [Theory]
    [InlineData("Prefer", "wait=5")]
    [InlineData("Kvs-Ttl", "3600")]
    [InlineData("If-Match", "\"x\"")]
    [InlineData("If-None-Match", "*")]
    public void Only_the_headers_a_request_carries_are_written(string name, string value)
    {
        var relayed = new RelayedRequestHeaders(new HeaderDictionary { [name] = value });

        Assert.Equal($"{name}: {value}\r\n", Written(relayed));
        Assert.Equal(1, relayed.Lines);
    }

    [Fact]
    public void None_is_nothing()
    {
        Assert.Equal("", Written(new RelayedRequestHeaders(new HeaderDictionary())));
        Assert.Equal(0, new RelayedRequestHeaders(new HeaderDictionary()).Lines);
        Assert.Equal("", Written(default));
        Assert.Equal(0, default(RelayedRequestHeaders).Lines);
    }

    [Fact]
    public void A_value_is_written_in_utf8_and_counted_in_bytes_not_characters()
    {
        var relayed = new RelayedRequestHeaders(new HeaderDictionary { ["Prefer"] = "x=\"caf\u00e9\u20ac\"", ["Kvs-Ttl"] = "\u00fc" });

        Assert.Equal("Prefer: x=\"caf\u00e9\u20ac\"\r\nKvs-Ttl: \u00fc\r\n", Written(relayed));
        Assert.Equal("Prefer: x=\"caf\"\r\nKvs-Ttl: \r\n".Length + 2 + 3 + 2, relayed.Length);
    }

    [Fact]
    public void A_missing_value_is_an_empty_line_of_its_name()
    {
        var relayed = new RelayedRequestHeaders(new HeaderDictionary
        {
            ["If-Match"] = new StringValues([null, "\"a\""]),
            ["If-None-Match"] = new StringValues([(string?)null]),
        });

        Assert.Equal("If-Match: \r\nIf-Match: \"a\"\r\nIf-None-Match: \r\n", Written(relayed));
        Assert.Equal(3, relayed.Lines);
    }

    [Fact]
    public void The_lines_go_after_what_is_already_in_the_buffer_and_nothing_beyond_them_is_touched()
    {
        var relayed = new RelayedRequestHeaders(new HeaderDictionary { ["If-Match"] = "\"m\"", ["Prefer"] = "wait=1" });
        var buffer = Enumerable.Repeat((byte)'#', relayed.Length + 8).ToArray();

        var written = relayed.Write(buffer.AsSpan(4));

        Assert.Equal("####If-Match: \"m\"\r\nPrefer: wait=1\r\n####", Encoding.ASCII.GetString(buffer));
        Assert.Equal(relayed.Length, written);
    }
}
