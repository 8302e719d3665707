using System.Text;
using AotKvs.Forwarding.Client;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The forwarder's strict reading of main's answer heads and chunk framing: what it accepts,
/// and that everything ambiguous is refused as an invalid answer (the client's 503) rather
/// than guessed at.
/// </summary>
[Trait("Category", "Unit")]
public sealed class AnswerParserTests
{
    private static AnswerHead Parse(string text, out int consumed)
    {
        Assert.True(AnswerParser.TryParseHead(Encoding.Latin1.GetBytes(text), out var head, out consumed));
        return head;
    }

    [Fact]
    public void Reads_status_length_type_allow_and_where_the_body_starts()
    {
        const string text = "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nallow: GET, HEAD\r\nAllow: PUT\r\ncontent-length: 30\r\n\r\n{\"error\"";
        var head = Parse(text, out var consumed);

        Assert.Equal(405, head.Status);
        Assert.Equal(30, head.ContentLength);
        Assert.Equal("application/json", head.ContentType);
        Assert.Equal("GET, HEAD, PUT", head.Allow);
        Assert.False(head.Chunked);
        Assert.False(head.Close);
        Assert.Equal(text.IndexOf("{", StringComparison.Ordinal), consumed);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\n\r\n", true)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: Close\r\n\r\n", true)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", true)]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", false)]
    public void Knows_when_main_closes_the_connection(string text, bool close) => Assert.Equal(close, Parse(text, out _).Close);

    [Theory]
    [InlineData("HTTP/1.1 204\r\n\r\n", 204, -1)]                         // no reason phrase, no space
    [InlineData("HTTP/1.1 200 \r\n\r\n", 200, -1)]                        // empty reason phrase
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", 200, 5)]  // a list of equal lengths
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length:7\r\nX-Other:\r\n\r\n", 200, 7)]
    public void Accepts_what_RFC_9112_allows(string text, int status, long length)
    {
        var head = Parse(text, out _);
        Assert.Equal(status, head.Status);
        Assert.Equal(length, head.ContentLength);
    }

    [Theory]
    [InlineData("ETag: \"0123456789abcdef-1f\"", "\"0123456789abcdef-1f\"")]
    [InlineData("etag:W/\"x\"\t", "W/\"x\"")]
    [InlineData("ETAG: \"\"", "\"\"")]
    [InlineData("ETag: \"!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\"", "\"!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\"")]
    public void Keeps_one_entity_tag_exactly(string field, string etag) =>
        Assert.Equal(etag, Parse($"HTTP/1.1 304 Not Modified\r\n{field}\r\n\r\n", out _).ETag);

    [Fact]
    public void No_etag_field_is_no_etag() => Assert.Null(Parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", out _).ETag);

    [Theory]
    [InlineData("ETag: abc")]
    [InlineData("ETag: W/abc")]
    [InlineData("ETag: w/\"a\"")]
    [InlineData("ETag: \"a")]
    [InlineData("ETag: a\"")]
    [InlineData("ETag: \"")]
    [InlineData("ETag: ")]
    [InlineData("ETag: \"a b\"")]
    [InlineData("ETag: \"a\"b\"")]
    [InlineData("ETag: \"a\", \"b\"")]
    [InlineData("ETag: \"a\"\r\nETag: \"a\"")]
    [InlineData("ETag: \"caf\u00e9\"")]
    [InlineData("ETag: \"a\tb\"")]
    public void Refuses_an_etag_it_could_not_relay(string field)
    {
        var e = Assert.Throws<HttpRequestException>(() => AnswerParser.TryParseHead(Encoding.Latin1.GetBytes($"HTTP/1.1 200 OK\r\n{field}\r\n\r\n"), out _, out _));
        Assert.Equal(HttpRequestError.InvalidResponse, e.HttpRequestError);
    }

    [Fact]
    public void An_etag_up_to_the_bound_is_kept_and_one_past_it_refused()
    {
        var longest = "W/\"" + new string('t', AnswerParser.MaxETagBytes - 4) + "\"";
        Assert.Equal(longest, Parse($"HTTP/1.1 200 OK\r\nETag: {longest}\r\n\r\n", out _).ETag);
        Assert.Throws<HttpRequestException>(() => AnswerParser.TryParseHead(
            Encoding.Latin1.GetBytes($"HTTP/1.1 200 OK\r\nETag: W/\"t{longest[2..]}\r\n\r\n"), out _, out _));
    }

    [Theory]
    [InlineData("Preference-Applied: wait=10", "wait=10")]
    [InlineData("preference-applied:wait=0\t", "wait=0")]
    [InlineData("PREFERENCE-APPLIED: respond-async", "respond-async")]
    [InlineData("Preference-Applied: wait = 5, return=minimal", "wait = 5, return=minimal")]
    [InlineData("Preference-Applied: x=\"a, b;\\\"c\"", "x=\"a, b;\\\"c\"")]
    [InlineData("Preference-Applied: , wait=5,,", ", wait=5,,")]
    [InlineData("Preference-Applied: x=\"\"", "x=\"\"")]
    [InlineData("Preference-Applied: !#$%&'*+-.^_`|~09azAZ=!#$%&'*+-.^_`|~", "!#$%&'*+-.^_`|~09azAZ=!#$%&'*+-.^_`|~")]
    public void Keeps_one_preference_applied_exactly(string field, string applied) =>
        Assert.Equal(applied, Parse($"HTTP/1.1 304 Not Modified\r\n{field}\r\n\r\n", out _).PreferenceApplied);

    [Fact]
    public void No_preference_applied_field_is_none() =>
        Assert.Null(Parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", out _).PreferenceApplied);

    [Theory]
    [InlineData("Preference-Applied: ")]
    [InlineData("Preference-Applied: ,")]
    [InlineData("Preference-Applied: =5")]
    [InlineData("Preference-Applied: wait=")]
    [InlineData("Preference-Applied: wait=5 6")]
    [InlineData("Preference-Applied: wait=5; p=1")]              // no parameters in Preference-Applied
    [InlineData("Preference-Applied: wait 5")]
    [InlineData("Preference-Applied: wa(it=5")]
    [InlineData("Preference-Applied: x=\"a")]
    [InlineData("Preference-Applied: x=\"a\\\"")]
    [InlineData("Preference-Applied: x=\"a\"b")]
    [InlineData("Preference-Applied: x=\"caf\u00e9\"")]           // obs-text: legal, not relayable
    [InlineData("Preference-Applied: caf\u00e9")]
    [InlineData("Preference-Applied: wait=5\r\nPreference-Applied: wait=5")] // twice
    public void Refuses_a_preference_applied_it_could_not_relay(string field)
    {
        var e = Assert.Throws<HttpRequestException>(() => AnswerParser.TryParseHead(Encoding.Latin1.GetBytes($"HTTP/1.1 200 OK\r\n{field}\r\n\r\n"), out _, out _));
        Assert.Equal(HttpRequestError.InvalidResponse, e.HttpRequestError);
    }

    [Fact]
    public void A_preference_applied_up_to_the_bound_is_kept_and_one_past_it_refused()
    {
        var longest = "wait=" + new string('9', AnswerParser.MaxPreferenceAppliedBytes - 5);
        Assert.Equal(longest, Parse($"HTTP/1.1 200 OK\r\nPreference-Applied: {longest}\r\n\r\n", out _).PreferenceApplied);
        Assert.Throws<HttpRequestException>(() => AnswerParser.TryParseHead(
            Encoding.Latin1.GetBytes($"HTTP/1.1 200 OK\r\nPreference-Applied: {longest}9\r\n\r\n"), out _, out _));
    }

    [Fact]
    public void Chunked_is_recognised() => Assert.True(Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", out _).Chunked);

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5")]
    [InlineData("HTTP/1.1 200 OK\r\n\r")]
    [InlineData("")]
    public void An_incomplete_head_asks_for_more(string text)
    {
        Assert.False(AnswerParser.TryParseHead(Encoding.Latin1.GetBytes(text), out _, out var consumed));
        Assert.Equal(0, consumed);
    }

    [Theory]
    [InlineData("HTTP/2 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.2 200 OK\r\n\r\n")]
    [InlineData("http/1.1 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 2OO OK\r\n\r\n")]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 2000 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 600 Nope\r\n\r\n")]
    [InlineData("HTTP/1.1 099 Nope\r\n\r\n")]
    [InlineData("HTTP/1.1  200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 O\u0001K\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n: no name\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-Bad: a\u0000b\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")]
    public void Refuses_what_is_malformed_or_ambiguous(string text)
    {
        var e = Assert.Throws<HttpRequestException>(() => AnswerParser.TryParseHead(Encoding.Latin1.GetBytes(text), out _, out _));
        Assert.Equal(HttpRequestError.InvalidResponse, e.HttpRequestError);
    }

    [Fact]
    public void Refuses_a_head_beyond_the_budget_even_before_it_ends()
    {
        var endless = Encoding.Latin1.GetBytes("HTTP/1.1 200 OK\r\nX-Big: " + new string('x', AnswerParser.MaxHeadBytes));
        Assert.Throws<HttpRequestException>(() => AnswerParser.TryParseHead(endless, out _, out _));
        var whole = Encoding.Latin1.GetBytes("HTTP/1.1 200 OK\r\nX-Big: " + new string('x', AnswerParser.MaxHeadBytes) + "\r\n\r\n");
        Assert.Throws<HttpRequestException>(() => AnswerParser.TryParseHead(whole, out _, out _));
    }

    [Theory]
    [InlineData("1a\r\n", 26, 4)]
    [InlineData("1A;name=value\r\nrest", 26, 15)]
    [InlineData("0\r\n", 0, 3)]
    [InlineData("ff \r\n", 255, 5)]
    [InlineData("fffffff\r\n", 0xfffffff, 9)]
    public void Reads_chunk_sizes(string text, int size, int consumed)
    {
        Assert.True(AnswerParser.TryParseChunkSize(Encoding.Latin1.GetBytes(text), out var parsed, out var used));
        Assert.Equal(size, parsed);
        Assert.Equal(consumed, used);
    }

    [Theory]
    [InlineData("\r\n")]
    [InlineData("xyz\r\n")]
    [InlineData("-1\r\n")]
    [InlineData("10000000\r\n")]   // 8 hex digits: 256 MiB and more is refused
    [InlineData(";ext\r\n")]
    public void Refuses_bad_chunk_sizes(string text) =>
        Assert.Throws<HttpRequestException>(() => AnswerParser.TryParseChunkSize(Encoding.Latin1.GetBytes(text), out _, out _));

    [Fact]
    public void A_chunk_size_line_without_its_end_asks_for_more_but_not_forever()
    {
        Assert.False(AnswerParser.TryParseChunkSize("1a"u8, out _, out _));
        Assert.Throws<HttpRequestException>(() => AnswerParser.TryParseChunkSize(Encoding.Latin1.GetBytes("1" + new string(' ', 2000)), out _, out _));
    }

    [Theory]
    [InlineData("\r\n", true, 2)]
    [InlineData("X-Trailer: 1\r\n\r\n", true, 16)]
    [InlineData("X-Trailer: 1\r\n", false, 0)]
    [InlineData("", false, 0)]
    public void Skips_the_trailer_section(string text, bool complete, int consumed)
    {
        Assert.Equal(complete, AnswerParser.TrySkipTrailers(Encoding.Latin1.GetBytes(text), out var used));
        Assert.Equal(consumed, used);
    }
}
