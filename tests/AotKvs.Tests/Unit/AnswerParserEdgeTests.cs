using System.Text;
using AotKvs.Forwarding.Client;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The answer parser at the exact edges of what it accepts: the last byte a head, a chunk
/// size line or a trailer section may take, the first and last status codes, and each
/// character class a line may or may not carry.
/// </summary>
[Trait("Category", "Unit")]
public sealed class AnswerParserEdgeTests
{
    private static AnswerHead Parse(string text)
    {
        Assert.True(AnswerParser.TryParseHead(Encoding.Latin1.GetBytes(text), out var head, out var consumed));
        Assert.Equal(text.Length, consumed);
        return head;
    }

    private static void Refused(string text)
    {
        var e = Assert.Throws<HttpRequestException>(() => AnswerParser.TryParseHead(Encoding.Latin1.GetBytes(text), out _, out _));
        Assert.Equal(HttpRequestError.InvalidResponse, e.HttpRequestError);
    }

    /// <summary>A whole head of exactly <paramref name="size"/> bytes.</summary>
    private static string HeadOf(int size)
    {
        const string start = "HTTP/1.1 200 OK\r\nX-Pad: ";
        return start + new string('p', size - start.Length - 4) + "\r\n\r\n";
    }

    [Fact]
    public void A_head_of_exactly_the_bound_is_read_and_one_byte_more_is_refused()
    {
        Assert.Equal(200, Parse(HeadOf(AnswerParser.MaxHeadBytes)).Status);
        Refused(HeadOf(AnswerParser.MaxHeadBytes + 1));
    }

    [Fact]
    public void An_unfinished_head_of_exactly_the_bound_asks_for_more_and_one_byte_more_is_refused()
    {
        var unfinished = HeadOf(AnswerParser.MaxHeadBytes + 2)[..^2];
        Assert.Equal(AnswerParser.MaxHeadBytes, unfinished.Length);
        Assert.False(AnswerParser.TryParseHead(Encoding.Latin1.GetBytes(unfinished), out _, out var consumed));
        Assert.Equal(0, consumed);
        Refused(HeadOf(AnswerParser.MaxHeadBytes + 3)[..^2]);
    }

    [Theory]
    [InlineData("HTTP/1.1 100 Continue\r\n\r\n", 100)]
    [InlineData("HTTP/1.1 599 Last\r\n\r\n", 599)]
    [InlineData("HTTP/1.1 200 Tab\tin reason\r\n\r\n", 200)]
    [InlineData("HTTP/1.1 301 x\r\n\r\n", 301)]
    [InlineData("HTTP/1.1 409\r\n\r\n", 409)]
    public void Status_codes_from_100_to_599_are_read(string text, int status) => Assert.Equal(status, Parse(text).Status);

    [Theory]
    [InlineData("HTTP/1.1 200 Del\u007f\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-Bad: a\u007fb\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-Bad: a\u001fb\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length\t: 2\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n\tX-Fold: a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nKvs-Tag: 000000000000002a\r\nKvs-Tag: 000000000000002a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nKvs-Tag: 2a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nAllow: GET, \u00e9\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Type: text/\u00e9\r\n\r\n")]
    [InlineData("HTTP/1.1 20a OK\r\n\r\n")]
    [InlineData("HTTP/1.1 2a0 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 a00 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200OK\r\n\r\n")]
    [InlineData("HTTP/1.1_200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 20\r\n\r\n")]
    [InlineData("HTTP/1.1 000 x\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0, 5\r\n\r\n")]
    public void Refuses_each_character_out_of_place(string text) => Refused(text);

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nX-Tab: a\tb\r\nContent-Length: 999999999999999\r\n\r\n", 999999999999999)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length:\t12 \r\n\r\n", 12)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 3)]
    public void Reads_every_length_it_may(string text, long length) => Assert.Equal(length, Parse(text).ContentLength);

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: close, keep-alive\r\n\r\n", true)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n", false)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: upgrade\r\n\r\n", false)]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: upgrade\r\n\r\n", true)]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\n\r\n", true)]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", false)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: ,close\r\n\r\n", true)]         // empty list elements are allowed (RFC 9110 §5.6.1)
    [InlineData("HTTP/1.1 200 OK\r\nConnection: , , close,\r\n\r\n", true)]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: ,keep-alive\r\n\r\n", false)]
    public void Knows_every_way_main_says_it_closes(string text, bool close) => Assert.Equal(close, Parse(text).Close);

    [Fact]
    public void Reads_the_relayed_fields_and_the_tag()
    {
        var head = Parse("HTTP/1.1 405 X\r\nAllow: GET\r\nAllow: HEAD\r\nAllow: PUT\r\nContent-Type: text/plain\r\nKvs-Tag: 00000000000000FF\r\nTransfer-Encoding: chunked\r\n\r\n");

        Assert.Equal("GET, HEAD, PUT", head.Allow);
        Assert.Equal("text/plain", head.ContentType);
        Assert.Equal(255UL, head.Tag);
        Assert.True(head.Chunked);
        Assert.Equal(-1, head.ContentLength);
        Assert.Same("application/json", Parse("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n").ContentType);
        Assert.Null(Parse("HTTP/1.1 200 OK\r\n\r\n").Allow);
        Assert.Equal(0UL, Parse("HTTP/1.1 200 OK\r\n\r\n").Tag);
    }

    [Theory]
    [InlineData("09af\r\n", 0x09af)]
    [InlineData("AF\t;x\r\n", 0xaf)]
    [InlineData("b0E\r\n", 0xb0e)]
    public void Reads_every_hex_digit_of_a_chunk_size(string text, int size)
    {
        Assert.True(AnswerParser.TryParseChunkSize(Encoding.Latin1.GetBytes(text), out var parsed, out var consumed));
        Assert.Equal((size, text.Length), (parsed, consumed));
    }

    [Theory]
    [InlineData("g\r\n")]
    [InlineData("G\r\n")]
    [InlineData("/\r\n")]
    [InlineData(":\r\n")]
    [InlineData("@\r\n")]
    [InlineData("`\r\n")]
    public void Refuses_a_chunk_size_digit_just_outside_the_hex_ranges(string text) =>
        Assert.Throws<HttpRequestException>(() => AnswerParser.TryParseChunkSize(Encoding.Latin1.GetBytes(text), out _, out _));

    [Fact]
    public void A_chunk_size_line_may_wait_for_its_end_up_to_1024_bytes()
    {
        Assert.False(AnswerParser.TryParseChunkSize(Encoding.Latin1.GetBytes("1;" + new string('e', 1022)), out _, out var consumed));
        Assert.Equal(0, consumed);
        Assert.Throws<HttpRequestException>(() => AnswerParser.TryParseChunkSize(Encoding.Latin1.GetBytes("1;" + new string('e', 1023)), out _, out _));
    }

    [Fact]
    public void A_trailer_section_may_wait_for_its_end_up_to_the_head_bound()
    {
        var pending = "X-T: " + new string('t', AnswerParser.MaxHeadBytes - 5);
        Assert.False(AnswerParser.TrySkipTrailers(Encoding.Latin1.GetBytes(pending), out _));
        Assert.Throws<HttpRequestException>(() => AnswerParser.TrySkipTrailers(Encoding.Latin1.GetBytes(pending + "t"), out _));
        Assert.True(AnswerParser.TrySkipTrailers(Encoding.Latin1.GetBytes("A: 1\r\nB: 2\r\n\r\nbody"), out var consumed));
        Assert.Equal(14, consumed);
    }
}
