using System.Text;
using AotKvs.Forwarding.Client;
using Microsoft.Extensions.Primitives;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The If-Match and If-None-Match lines a forwarder passes to main: every line, in order,
/// each value in UTF-8, and exactly as many bytes and lines as it says it takes (the head is
/// sized, and refused as too large, from those figures before it is written).
/// </summary>
[Trait("Category", "Unit")]
public sealed class ConditionalHeadersTests
{
    /// <summary>What <paramref name="conditions"/> writes into a buffer of exactly its <see cref="ConditionalHeaders.Length"/>.</summary>
    private static string Written(ConditionalHeaders conditions)
    {
        var buffer = new byte[conditions.Length];
        Assert.Equal(buffer.Length, conditions.Write(buffer));
        return Encoding.UTF8.GetString(buffer);
    }

    [Fact]
    public void Every_line_is_written_in_order_each_name_before_its_values()
    {
        var conditions = new ConditionalHeaders(new StringValues(["\"a\", W/\"b\"", "*"]), new StringValues(["\"c\"", "W/\"d\"", "\"e\""]));

        Assert.Equal("If-Match: \"a\", W/\"b\"\r\nIf-Match: *\r\nIf-None-Match: \"c\"\r\nIf-None-Match: W/\"d\"\r\nIf-None-Match: \"e\"\r\n", Written(conditions));
        Assert.Equal(5, conditions.Lines);
    }

    [Theory]
    [InlineData(new[] { "\"x\"" }, new string[0], "If-Match: \"x\"\r\n")]
    [InlineData(new string[0], new[] { "*" }, "If-None-Match: *\r\n")]
    [InlineData(new string[0], new string[0], "")]
    public void Only_the_conditions_a_request_carries_are_written(string[] ifMatch, string[] ifNoneMatch, string lines)
    {
        var conditions = new ConditionalHeaders(new StringValues(ifMatch), new StringValues(ifNoneMatch));

        Assert.Equal(lines, Written(conditions));
        Assert.Equal(ifMatch.Length + ifNoneMatch.Length, conditions.Lines);
    }

    [Fact]
    public void A_value_is_written_in_utf8_and_counted_in_bytes_not_characters()
    {
        var conditions = new ConditionalHeaders(new StringValues("\"caf\u00e9\u20ac\""), new StringValues("\"\u00fc\""));

        Assert.Equal("If-Match: \"caf\u00e9\u20ac\"\r\nIf-None-Match: \"\u00fc\"\r\n", Written(conditions));
        Assert.Equal("If-Match: \"caf\u00e9\u20ac\"\r\nIf-None-Match: \"\u00fc\"\r\n".Length + 1 + 2 + 1, conditions.Length);
    }

    [Fact]
    public void A_missing_value_is_an_empty_line_of_its_name()
    {
        var conditions = new ConditionalHeaders(new StringValues([null, "\"a\""]), new StringValues([(string?)null]));

        Assert.Equal("If-Match: \r\nIf-Match: \"a\"\r\nIf-None-Match: \r\n", Written(conditions));
        Assert.Equal(3, conditions.Lines);
    }

    [Fact]
    public void The_lines_go_after_what_is_already_in_the_buffer_and_nothing_beyond_them_is_touched()
    {
        var conditions = new ConditionalHeaders(new StringValues("\"m\""), new StringValues("\"n\""));
        var buffer = Enumerable.Repeat((byte)'#', conditions.Length + 8).ToArray();

        var written = conditions.Write(buffer.AsSpan(4));

        Assert.Equal("####If-Match: \"m\"\r\nIf-None-Match: \"n\"\r\n####", Encoding.ASCII.GetString(buffer));
        Assert.Equal(conditions.Length, written);
    }
}
