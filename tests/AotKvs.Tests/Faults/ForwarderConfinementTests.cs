using System.Text;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Faults;

/// <summary>
/// A forwarder only ever talks to FORWARDING_ADDRESS, and passes on nothing but the method,
/// the target as sent, the body, Content-Type, the client's If-Match and If-None-Match lines
/// and its Via entry. A fake main records what arrives; a decoy that every trick names must
/// receive nothing.
/// </summary>
[Trait("Category", "Faults")]
public sealed class ForwarderConfinementTests
{
    private static readonly HashSet<string> Allowed = new(StringComparer.OrdinalIgnoreCase) { "Host", "Content-Type", "Content-Length", "Via", "Kvs-Tag", "Connection", "If-Match", "If-None-Match" };

    public static TheoryData<string, string, string?> Steering => new()
    {
        // name, request head (after the request line's method), the target main must see (null: refused before forwarding)
        { "absolute-form names another host", "GET http://{decoy}/kvs/a HTTP/1.1\r\nHost: {decoy}", "/kvs/a" },
        { "absolute-form with userinfo", "GET http://user@{decoy}/kvs/a?x=1 HTTP/1.1\r\nHost: {decoy}", "/kvs/a?x=1" },
        { "Host header names another host", "GET /kvs/a HTTP/1.1\r\nHost: {decoy}", "/kvs/a" },
        { "forwarding headers name another host", "GET /kvs/a HTTP/1.1\r\nHost: x\r\nX-Forwarded-Host: {decoy}\r\nForwarded: host={decoy}", "/kvs/a" },
        { "dot segments", "GET /kvs/../../../{decoy}/kvs/a HTTP/1.1\r\nHost: x", "/kvs/../../../{decoy}/kvs/a" },
        { "encoded dot segments", "GET /kvs/%2e%2e/%2e%2e/a HTTP/1.1\r\nHost: x", "/kvs/%2e%2e/%2e%2e/a" },
        { "double slash looks like an authority", "GET //{decoy}/kvs/a HTTP/1.1\r\nHost: x", "//{decoy}/kvs/a" },
        { "at sign in the path", "GET /kvs/a@{decoy}/ HTTP/1.1\r\nHost: x", "/kvs/a@{decoy}/" },
        { "CONNECT to another host", "CONNECT {decoy} HTTP/1.1\r\nHost: {decoy}", null },
        { "asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: x", null },
    };

    [Theory, MemberData(nameof(Steering))]
    public async Task Request_target_tricks_cannot_steer_the_forwarder(string name, string head, string? expectedTarget)
    {
        using var main = new FakeMain(TimeSpan.Zero);
        using var decoy = new FakeMain(TimeSpan.Zero);
        using var forwarder = ServerProcess.StartForwarder(main.Address);

        var request = head.Replace("{decoy}", decoy.Address) + "\r\nConnection: close\r\n\r\n";
        var answer = await RawHttp.SendAsync(forwarder.BaseUri, Encoding.ASCII.GetBytes(request));

        Assert.Empty(decoy.Heads);
        if (expectedTarget is null)
        {
            Assert.True(answer.Status is >= 400 and < 500, $"{name}: {answer.Status}");
            Assert.Empty(main.Heads);
            return;
        }
        var lines = Assert.Single(main.Heads).Split("\r\n");
        Assert.Equal($"GET {expectedTarget.Replace("{decoy}", decoy.Address)} HTTP/1.1", lines[0]);
        Assert.Contains($"Host: {main.Address}", lines);
    }

    [Fact]
    public async Task Hop_by_hop_and_credential_headers_are_not_passed_on()
    {
        using var main = new FakeMain(TimeSpan.Zero);
        using var forwarder = ServerProcess.StartForwarder(main.Address);
        const string body = """{"value": 1}""";
        var request =
            "PUT /kvs/a HTTP/1.1\r\nHost: x\r\n" +
            "Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n" +
            "Proxy-Authorization: Basic eDp5\r\nAuthorization: Bearer t\r\nCookie: s=1\r\nTE: trailers\r\nTrailer: X-T\r\n" +
            "Upgrade: h2c\r\nExpect: 100-continue\r\nX-Forwarded-For: 10.0.0.1\r\nX-Custom: 1\r\nKvs-Tag: 0123456789abcdef\r\n" +
            "If-Match: \"0123456789abcdef-1\", W/\"b\"\r\nIf-None-Match: *\r\nIf-Match:  \"c\" \r\nIf-Range: \"d\"\r\n" +
            "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\nIf-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n" +
            "Content-Type: application/json; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n" +
            $"{body.Length:x}\r\n{body}\r\n0\r\n\r\n";
        Assert.Equal(200, (await RawHttp.SendAsync(forwarder.BaseUri, Encoding.ASCII.GetBytes(request))).Status);

        var lines = Assert.Single(main.Heads).Split("\r\n");
        Assert.Equal("PUT /kvs/a HTTP/1.1", lines[0]);
        var names = lines.Skip(1).Select(l => l[..l.IndexOf(':')]).ToList();
        Assert.All(names, n => Assert.Contains(n, Allowed));
        Assert.Contains("Content-Type: application/json; charset=utf-8", lines);
        Assert.Contains($"Content-Length: {body.Length}", lines);
        // The entity-tag conditions go on unchanged, every line in order (the value without the space around it);
        // the date conditions and If-Range do not: main evaluates none of them.
        Assert.Equal(["If-Match: \"0123456789abcdef-1\", W/\"b\"", "If-Match: \"c\""], lines.Where(l => l.StartsWith("If-Match:", StringComparison.Ordinal)));
        Assert.Equal("If-None-Match: *", Assert.Single(lines, l => l.StartsWith("If-None-Match:", StringComparison.Ordinal)));
        // The forwarder's own: its tag for this request (never the client's), and close to a main that does not echo tags.
        Assert.Matches("^Kvs-Tag: [0-9a-f]{16}$", Assert.Single(lines, l => l.StartsWith("Kvs-Tag:", StringComparison.Ordinal)));
        Assert.DoesNotContain("Kvs-Tag: 0123456789abcdef", lines);
        Assert.Equal("Connection: close", Assert.Single(lines, l => l.StartsWith("Connection:", StringComparison.Ordinal)));
    }
}
