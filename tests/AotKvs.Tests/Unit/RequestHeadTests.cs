using System.Buffers;
using System.Text;
using AotKvs.Forwarding.Client;
using AotKvs.Forwarding;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The bytes of a request to main, exactly, for every combination of what a request carries
/// and for every length of target: the buffer is sized before it is written, so a head that
/// is one byte longer than its buffer shows as a failure at some length.
/// </summary>
[Trait("Category", "Unit")]
public sealed class RequestHeadTests
{
    private static readonly ViaHeader Via = ViaHeader.ForNewInstance();
    private static readonly RequestHead Head = new("main:8090", Via.Entry);

    private static string Expected(string method, string target, string[] via, string? contentType, string? body, bool hasBody, ulong tag, bool keepAlive, bool inline,
        string[]? ifMatch = null, string[]? ifNoneMatch = null)
    {
        var text = new StringBuilder($"{method} {target} HTTP/1.1\r\nHost: main:8090\r\nVia: ");
        foreach (var entry in via)
            text.Append(entry).Append(", ");
        text.Append(Via.Entry).Append("\r\n").Append($"Kvs-Tag: {tag:x16}\r\n");
        if (!keepAlive)
            text.Append("Connection: close\r\n");
        foreach (var line in ifMatch ?? [])
            text.Append($"If-Match: {line}\r\n");
        foreach (var line in ifNoneMatch ?? [])
            text.Append($"If-None-Match: {line}\r\n");
        if (contentType is not null)
            text.Append($"Content-Type: {contentType}\r\n");
        if (hasBody)
            text.Append($"Content-Length: {Encoding.UTF8.GetByteCount(body ?? "")}\r\n");
        text.Append("\r\n");
        if (hasBody && inline)
            text.Append(body);
        return text.ToString();
    }

    private static string Written(string method, string target, string[] via, string? contentType, string? body, bool hasBody, ulong tag, bool keepAlive, bool inline,
        string[]? ifMatch = null, string[]? ifNoneMatch = null)
    {
        var conditions = new RelayedRequestHeaders(new HeaderDictionary
        {
            ["If-Match"] = new StringValues(ifMatch ?? []),
            ["If-None-Match"] = new StringValues(ifNoneMatch ?? []),
        });
        var buffer = Head.Write(method, target, new StringValues(via), conditions, contentType, Encoding.UTF8.GetBytes(body ?? ""), hasBody, tag, keepAlive, inline, out var length);
        try
        {
            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public static TheoryData<string[], string?, string?, bool, bool, bool> Shapes() => new()
    {
        { [], null, null, false, true, true },
        { [], null, null, false, false, true },
        { ["1.1 edge"], "application/json", "{\"value\":1}", true, true, true },
        { ["1.1 edge", "1.1 é-hop"], "text/plain; charset=utf-8", "é body", true, false, true },
        { [], "application/json", "{\"value\":\"large\"}", true, true, false },
        { [], null, "", true, true, true },
        { ["1.1 a", "1.1 b", "1.1 c"], null, null, false, false, true }, // no slack: every Via entry's bytes must be counted
    };

    [Theory, MemberData(nameof(Shapes))]
    public void Every_part_is_written_exactly_at_every_length_of_target(string[] via, string? contentType, string? body, bool hasBody, bool keepAlive, bool inline)
    {
        for (var n = 0; n < 600; n++)
        {
            var target = "/kvs/" + new string('k', n / 2) + new string('é', n - n / 2 > 0 ? (n - n / 2) / 2 : 0) + "?q=" + n;
            var tag = (ulong)n * 0x0101_0101_0101UL + 1;
            foreach (var method in new[] { "GET", "DELETE" })
                Assert.Equal(Expected(method, target, via, contentType, body, hasBody, tag, keepAlive, inline),
                    Written(method, target, via, contentType, body, hasBody, tag, keepAlive, inline));
        }
    }

    [Fact]
    public void A_body_of_every_length_fits()
    {
        for (var n = 0; n < 2100; n += 7)
        {
            var body = new string('b', n);
            Assert.Equal(Expected("PUT", "/kvs/a", ["1.1 x"], "application/json", body, true, 9, true, true),
                Written("PUT", "/kvs/a", ["1.1 x"], "application/json", body, true, 9, true, true));
        }
    }

    [Fact]
    public void The_conditions_go_after_the_tag_and_before_the_body_at_every_length_of_target()
    {
        string[] ifMatch = ["\"0123456789abcdef-1\", W/\"x\"", "\"caf\u00e9\""];
        string[] ifNoneMatch = ["*"];
        for (var n = 0; n < 600; n++)
        {
            var target = "/kvs/" + new string('c', n);
            foreach (var keepAlive in new[] { true, false })
                Assert.Equal(Expected("DELETE", target, ["1.1 x"], "application/json", "{}", true, 7, keepAlive, true, ifMatch, ifNoneMatch),
                    Written("DELETE", target, ["1.1 x"], "application/json", "{}", true, 7, keepAlive, true, ifMatch, ifNoneMatch));
        }
    }
}
