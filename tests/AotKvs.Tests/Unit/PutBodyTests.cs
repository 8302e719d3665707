using System.Text;
using AotKvs.Endpoints;
using Xunit;

namespace AotKvs.Tests.Unit;

[Trait("Category", "Unit")]
public sealed class PutBodyTests
{
    [Theory]
    [InlineData("""{"value": 1}""", "1")]
    [InlineData("""{"value":12345678901234567890}""", "12345678901234567890")]
    [InlineData("""{"value": "a\"b\u00e9"}""", "\"a\\\"b\\u00e9\"")]
    [InlineData("""{"value": {"a": [1, {"b": null}]}}""", """{"a": [1, {"b": null}]}""")]
    [InlineData("""{"value": null}""", "null")]
    [InlineData("""{"value": []}""", "[]")]
    [InlineData("""{"x": 1, "value": true, "y": [2]}""", "true")]
    [InlineData("""{"value": 1, "value": 2}""", "2")]
    [InlineData("""{"\u0076alue": 3}""", "3")] // an escaped member name is still "value"
    [InlineData(" \n{\"value\" : \"x\" }\n ", "\"x\"")]
    public void Keeps_the_exact_JSON_text_of_the_value(string body, string expected)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        Assert.True(PutBody.TryFindValue(bytes, 64, out var value));
        Assert.Equal(expected, Encoding.UTF8.GetString(bytes[value]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("\"value\"")]
    [InlineData("{\"val\": 1}")]
    [InlineData("{\"value\": }")]
    [InlineData("{\"value\": 1} 2")]
    [InlineData("{\"value\": 1,}")]
    [InlineData("{\"value\": NaN}")]
    [InlineData("{\"value\": 01}")]
    [InlineData("{\"value\": \"\\x\"}")]
    public void Refuses_bodies_without_a_value(string body) =>
        Assert.False(PutBody.TryFindValue(Encoding.UTF8.GetBytes(body), 64, out _));

    [Fact]
    public void Refuses_invalid_UTF8_inside_a_string() =>
        Assert.False(PutBody.TryFindValue([.. "{\"value\": \""u8, 0xFF, .. "\"}"u8], 64, out _));

    [Fact]
    public void Nesting_limit_holds()
    {
        var deep = "{\"value\": " + new string('[', 100) + new string(']', 100) + "}";
        Assert.True(PutBody.TryFindValue(Encoding.UTF8.GetBytes(deep), 128, out _));
        Assert.False(PutBody.TryFindValue(Encoding.UTF8.GetBytes(deep), 64, out _));
    }
}
