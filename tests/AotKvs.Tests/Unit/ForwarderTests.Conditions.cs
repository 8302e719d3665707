using System.Text;
using AotKvs.Forwarding.Client;
using AotKvs.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// Conditional requests through a forwarder: If-Match and If-None-Match go to main line for
/// line, byte for byte (only main knows the current version), and main's ETag comes back
/// exactly on every status, a 304 without a body; an ETag that cannot be relayed is a 503.
/// </summary>
public sealed partial class ForwarderTests
{
    private const string PreconditionFailed = """{"error":"Precondition failed"}""";

    /// <summary>Every line main received with this name, whole ("If-Match: ..."), in order.</summary>
    private static string[] Lines(SentRequest sent, string name) =>
        [.. sent.Headers.Where(h => h.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))];

    private static DefaultHttpContext Conditional(string method, string target, StringValues ifMatch, StringValues ifNoneMatch, string? body = null)
    {
        var context = Request(method, target, body, body is null ? null : "application/json");
        if (ifMatch.Count > 0)
            context.Request.Headers.IfMatch = ifMatch;
        if (ifNoneMatch.Count > 0)
            context.Request.Headers.IfNoneMatch = ifNoneMatch;
        return context;
    }

    [Fact]
    public async Task If_match_and_if_none_match_reach_main_line_for_line_and_byte_for_byte()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(Answer(412, PreconditionFailed, "ETag: \"0123456789abcdef-2a\"\r\n"));
        // A list, a weak tag, "*", odd spacing inside a line, a tag that is not ours, a UTF-8 byte: none of it is the forwarder's to judge.
        var ifMatch = new StringValues(["\"0123456789abcdef-1\", W/\"0123456789abcdef-2\"", "*", "\"a\" ,\t\"b\"", "\"caf\u00e9\""]);
        var ifNoneMatch = new StringValues(["*", "W/\"x\""]);
        var context = Conditional("PUT", "/kvs/a", ifMatch, ifNoneMatch, """{"value":1}""");

        await forwarder.ForwardAsync(context);

        var sent = Assert.Single(_main.Seen);
        // The scripted main reads bytes as Latin-1: what arrives is the UTF-8 of what was received.
        static string OnTheWire(string line) => Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(line));
        Assert.Equal(ifMatch.Select(v => OnTheWire("If-Match: " + v)), Lines(sent, "If-Match"));
        Assert.Equal(ifNoneMatch.Select(v => "If-None-Match: " + v), Lines(sent, "If-None-Match"));
        Assert.Equal("""{"value":1}""", sent.Body);
        AssertAnswer(context, 412, PreconditionFailed);
        Assert.Equal("\"0123456789abcdef-2a\"", context.Response.Headers.ETag.ToString());
    }

    [Fact]
    public async Task A_request_without_conditions_sends_none()
    {
        using var forwarder = NewForwarder();
        await forwarder.ForwardAsync(Request("GET", "/kvs/a"));

        var sent = Assert.Single(_main.Seen);
        Assert.Empty(Lines(sent, "If-Match"));
        Assert.Empty(Lines(sent, "If-None-Match"));
    }

    public static TheoryData<string, int, string?> Statuses() => new()
    {
        { "GET", 200, Found },
        { "PUT", 201, """{"result":"created"}""" },
        { "PUT", 200, """{"result":"replaced"}""" },
        { "DELETE", 412, PreconditionFailed },
        { "GET", 304, null },
    };

    [Theory, MemberData(nameof(Statuses))]
    public async Task Mains_etag_is_relayed_exactly_on_every_status(string method, int status, string? json)
    {
        using var forwarder = NewForwarder();
        const string tag = "\"5a17c0ffee15900d-1f\"";
        _script = (_, _) => Task.FromResult(json is null
            ? new Reply($"HTTP/1.1 {status} Not Modified\r\nETag: {tag}\r\n\r\n")
            : Answer(status, json, $"ETag: {tag}\r\n"));
        var context = Conditional(method, "/kvs/a", "\"5a17c0ffee15900d-1f\"", default, method == "PUT" ? """{"value":1}""" : null);

        await forwarder.ForwardAsync(context);
        // The connection is still in step after it: the next answer is the next request's.
        _script = (_, _) => Task.FromResult(Answer(200, Found));
        var next = Request("GET", "/kvs/b");
        await forwarder.ForwardAsync(next);

        Assert.Equal(tag, context.Response.Headers.ETag.ToString());
        if (json is null)
        {
            Assert.Equal(status, context.Response.StatusCode);
            Assert.Empty(((MemoryStream)context.Response.Body).ToArray());
            Assert.Null(context.Response.ContentLength);
        }
        else
            AssertAnswer(context, status, json);
        AssertAnswer(next, 200, Found);
        Assert.Equal(0, next.Response.Headers.ETag.Count);
        Assert.Equal(1, _dials);
    }

    [Fact]
    public async Task A_weak_etag_from_main_is_relayed_as_is()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(Answer(200, Found, "etag: W/\"v!#~\"\r\n"));
        var context = Request("GET", "/kvs/a");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 200, Found);
        Assert.Equal("W/\"v!#~\"", context.Response.Headers.ETag.ToString());
    }

    /// <summary>A 304 followed by bytes main should not have sent: relayed without them, and the connection retired.</summary>
    [Fact]
    public async Task A_304_is_relayed_without_a_body_whatever_main_sent()
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(new Reply("HTTP/1.1 304 Not Modified\r\nETag: \"t-1\"\r\nContent-Length: 5\r\n\r\nhello"));
        var context = Conditional("GET", "/kvs/a", default, "\"t-1\"");

        await forwarder.ForwardAsync(context);

        Assert.Equal(304, context.Response.StatusCode);
        Assert.Equal("\"t-1\"", context.Response.Headers.ETag.ToString());
        Assert.Empty(((MemoryStream)context.Response.Body).ToArray());
    }

    public static TheoryData<string> UnrelayableETags() =>
    [
        "ETag: \"caf\u00e9\"\r\n",                    // not ASCII (main writes it in UTF-8; obs-text, legal but not relayable)
        "ETag: abc\r\n",                                // not quoted
        "ETag: W/abc\r\n",
        "ETag: \"a\r\n",
        "ETag: \"a\"b\"\r\n",
        "ETag: \"a b\"\r\n",
        "ETag: \"a\", \"b\"\r\n",                       // a list: the field is a singleton
        "ETag: \"a\"\r\nETag: \"a\"\r\n",               // twice
        "ETag: \r\n",
        "ETag: w/\"a\"\r\n",                            // the weak prefix is case-sensitive
        $"ETag: \"{new string('t', AnswerParser.MaxETagBytes - 1)}\"\r\n", // past the bound
    ];

    [Theory, MemberData(nameof(UnrelayableETags))]
    public async Task An_etag_that_cannot_be_relayed_is_a_503_not_a_500(string field)
    {
        using var forwarder = NewForwarder();
        _script = (_, _) => Task.FromResult(Answer(200, Found, field));
        var context = Request("GET", "/kvs/a");

        await forwarder.ForwardAsync(context);

        AssertAnswer(context, 503, Expected.CannotForward);
        Assert.Equal(0, context.Response.Headers.ETag.Count);
    }

    [Fact]
    public async Task Condition_lines_the_next_hop_would_refuse_are_a_json_431()
    {
        using var forwarder = NewForwarder();
        var tooLong = Conditional("PUT", "/kvs/a", "\"" + new string('t', 32_300) + "\"", default, """{"value":1}""");
        var tooMany = Conditional("GET", "/kvs/a", new StringValues([.. Enumerable.Repeat("\"t\"", 95)]), default);
        var spreadOut = Conditional("GET", "/kvs/a", "\"" + new string('t', 16_200) + "\"", "\"" + new string('n', 16_200) + "\"");

        await forwarder.ForwardAsync(tooLong);
        await forwarder.ForwardAsync(tooMany);
        await forwarder.ForwardAsync(spreadOut);

        AssertAnswer(tooLong, 431, Expected.HeadersTooLarge);
        AssertAnswer(tooMany, 431, Expected.HeadersTooLarge);
        AssertAnswer(spreadOut, 431, Expected.HeadersTooLarge);
        Assert.Empty(_main.Seen);
    }

    [Fact]
    public async Task Condition_lines_within_the_next_hops_bounds_all_go()
    {
        using var forwarder = NewForwarder();
        var many = Conditional("GET", "/kvs/a", new StringValues([.. Enumerable.Range(0, 94).Select(i => $"\"t{i}\"")]), default);
        var longOne = Conditional("GET", "/kvs/a", default, "\"" + new string('n', 31_000) + "\"");

        await forwarder.ForwardAsync(many);
        await forwarder.ForwardAsync(longOne);

        AssertAnswer(many, 200, Found);
        AssertAnswer(longOne, 200, Found);
        Assert.Equal(Enumerable.Range(0, 94).Select(i => $"If-Match: \"t{i}\""), Lines(_main.Seen[0], "If-Match"));
        Assert.Equal(31_002, Assert.Single(Lines(_main.Seen[1], "If-None-Match")).Length - "If-None-Match: ".Length);
    }

    /// <summary>
    /// Pipelined: a batch of conditional GETs, each answered 304 or 412 with its own key's tag,
    /// and main answering the batch's tags out of order would be caught as before: each client
    /// gets the tag of its own key, and main saw each client's own condition.
    /// </summary>
    [Fact]
    public async Task In_a_pipelined_batch_each_request_carries_its_own_conditions_and_gets_its_own_etag()
    {
        using var forwarder = NewForwarder(upstreamConnections: 1, pipelineTiming: WideWindow);
        var gate = new TaskCompletionSource();
        static string TagOf(string path) => $"\"{path.Replace("/kvs/", "", StringComparison.Ordinal)}-1\"";
        HoldFirstUntil(gate, request =>
        {
            var path = PathOf(request);
            var etag = $"ETag: {TagOf(path)}\r\n";
            return request.Header("If-None-Match") == TagOf(path)
                ? new Reply($"HTTP/1.1 304 Not Modified\r\n{etag}\r\n")
                : Answer(412, PreconditionFailed, etag);
        });
        var first = forwarder.ForwardAsync(Request("GET", "/kvs/first"));
        Assert.True(Poll.Until(() => _main.Seen.Count == 1, TimeSpan.FromSeconds(5)), "the first request never reached main");
        var batch = new List<(string Path, DefaultHttpContext Context, Task Done)>();
        for (var i = 0; i < 6; i++)
        {
            var path = $"/kvs/k{i}";
            // Even: the key's own tag (304); odd: another key's (412).
            var context = i % 2 == 0 ? Conditional("GET", path, default, TagOf(path)) : Conditional("DELETE", path, TagOf("/kvs/other"), default);
            batch.Add((path, context, forwarder.ForwardAsync(context)));
        }
        await Task.Yield();

        await ReleaseAsync(gate, first, batch);

        foreach (var (path, context, _) in batch)
        {
            Assert.Equal(TagOf(path), context.Response.Headers.ETag.ToString());
            if (context.Request.Method == "GET")
            {
                Assert.Equal(304, context.Response.StatusCode);
                Assert.Empty(((MemoryStream)context.Response.Body).ToArray());
            }
            else
                AssertAnswer(context, 412, PreconditionFailed);
        }
        Assert.Equal(1, _dials);
        Assert.Contains(_main.Seen, s => s.Buffered); // they did share a write
    }
}
