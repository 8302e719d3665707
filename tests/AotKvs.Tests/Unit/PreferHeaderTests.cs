using AotKvs.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The wait preference of Prefer (RFC 7240): found among other preferences and parameters,
/// on any line, in any case, bare or quoted; only the first wait counts, and one whose value
/// is not delta-seconds gives no wait.
/// </summary>
[Trait("Category", "Unit")]
public sealed class PreferHeaderTests
{
    [Theory]
    [InlineData("wait=10", 10)]
    [InlineData("wait=0", 0)]
    [InlineData("WAIT=7", 7)]
    [InlineData("Wait = 7", 7)]                                  // BWS around "="
    [InlineData("wait=\t7\t", 7)]
    [InlineData("wait=\"15\"", 15)]                              // a quoted-string
    [InlineData("wait=\"1\\5\"", 15)]                            // a quoted-pair stands for its character
    [InlineData("wait=007", 7)]
    [InlineData("respond-async, wait=100", 100)]
    [InlineData("return=minimal; foo=\"a,b\", wait=3", 3)]       // a comma inside a quoted parameter
    [InlineData("wait=4;x=1;y", 4)]                              // parameters are ignored
    [InlineData("wait=4 ; x=\"wait=9\"", 4)]
    [InlineData(",, wait=5 ,", 5)]                               // empty elements
    [InlineData("wait=2147483647", int.MaxValue)]
    [InlineData("wait=99999999999999999999", int.MaxValue)]      // beyond an int: the greatest
    [InlineData("wait=5, wait=9", 5)]                            // the first instance counts
    [InlineData("handling=lenient, Wait=\"60\"; p", 60)]
    public void A_wait_is_read(string prefer, int seconds)
    {
        Assert.True(PreferHeader.TryReadWait(new StringValues(prefer), out var read));
        Assert.Equal(seconds, read);
    }

    [Theory]
    [InlineData("")]
    [InlineData("respond-async")]
    [InlineData("return=minimal")]
    [InlineData("waiting=5")]                                    // another token
    [InlineData("await=5")]
    [InlineData("x-wait=5")]
    [InlineData("foo=\"wait=5\"")]                               // inside a quoted value
    [InlineData("foo; wait=5")]                                  // a parameter, not a preference
    [InlineData("foo=\"a, wait=5\"")]
    [InlineData("wait")]                                         // no value
    [InlineData("wait=")]
    [InlineData("wait=\"\"")]
    [InlineData("wait=-1")]
    [InlineData("wait=+5")]
    [InlineData("wait=1.5")]
    [InlineData("wait=5s")]
    [InlineData("wait=5 6")]
    [InlineData("wait=\"5")]
    [InlineData("wait=5\"")]
    [InlineData("wait=\"5\\\"")]
    [InlineData("wait=1\\5")]                                    // a backslash is no quoted-pair outside quotes
    [InlineData("wait=abc, wait=5")]                             // the first instance is unparsable: no wait
    [InlineData("wait=٣")]                                       // a digit, but not an ASCII one
    public void No_wait_is_read(string prefer)
    {
        Assert.False(PreferHeader.TryReadWait(new StringValues(prefer), out var seconds));
        Assert.Equal(0, seconds);
    }

    [Fact]
    public void No_prefer_header_is_no_wait()
    {
        Assert.False(PreferHeader.TryReadWait(new HeaderDictionary(), out var seconds));
        Assert.Equal(0, seconds);
    }

    [Fact]
    public void Every_line_is_read_in_order_and_the_first_wait_on_any_counts()
    {
        var headers = new HeaderDictionary { ["Prefer"] = new StringValues(["respond-async", "return=minimal, wait=30", "wait=1"]) };

        Assert.True(PreferHeader.TryReadWait(headers, out var seconds));
        Assert.Equal(30, seconds);
    }

    [Fact]
    public void The_header_name_is_not_case_sensitive()
    {
        var headers = new HeaderDictionary { ["prefer"] = "wait=8" };

        Assert.True(PreferHeader.TryReadWait(headers, out var seconds));
        Assert.Equal(8, seconds);
    }
}
