using System.Text;

namespace AotKvs.Tests.Faults;

/// <summary>What a case may get back. Every case: never a 5xx, never a hang, JSON whenever there is a body.</summary>
public enum Expect
{
    /// <summary>A 4xx (a JSON error, or the HTTP layer's own empty 4xx or a clean close).</summary>
    Refused,
    /// <summary>Odd but valid: an ordinary answer below 500.</summary>
    Served,
    /// <summary>Either is right (e.g. the HTTP layer's choice).</summary>
    Either,
}

public sealed record HostileCase(string Category, string Name, byte[] Bytes, Expect Expect, int Answers = 1)
{
    /// <summary>
    /// The key this case touches, as written in its request target, for reading it back;
    /// null where no read can reach it (a target the service refuses, or no key at all).
    /// No other case writes it.
    /// </summary>
    public string? Key { get; init; }

    /// <summary>A PUT whose key exists afterwards if, and only if, it was answered 201.</summary>
    public bool Writes { get; init; }

    /// <summary>The JSON value a read of <see cref="Key"/> must find after an accepted PUT; null: any value.</summary>
    public string? Value { get; init; }

    /// <summary>The statuses, in order, of the answers when the case is served.</summary>
    public int[] Served { get; init; } = [];

    public override string ToString() => $"{Category}: {Name}";
}

/// <summary>
/// Bad and odd requests, as raw bytes, for every parser on the path: request line, target
/// and percent-decoding, headers, framing, JSON. Each case has a key of its own
/// (hostile-N, or the key under test; a key's GET cases come before its PUT), so what one
/// case leaves behind is its own doing. Bodies over the limit assume
/// KVS_MAX_BODY_BYTES = <see cref="BodyLimit"/>.
/// </summary>
public static class HostileCorpus
{
    public const int BodyLimit = 64 * 1024;

    private static byte[] Latin1(string s) => Encoding.Latin1.GetBytes(s);
    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Stands for the case's own key in a request's text.</summary>
    private const string OwnKey = "@KEY";
    private static int _keys;

    private static HostileCase Put(string category, string name, byte[] body, Expect expect, string? contentType = "application/json",
        string? value = "1", string? key = null)
    {
        var own = key is null;
        key ??= $"hostile-{++_keys}";
        return new(category, name, [.. Latin1($"PUT /kvs/{key} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n" +
            (contentType is null ? "" : $"Content-Type: {contentType}\r\n") + $"Content-Length: {body.Length}\r\n\r\n"), .. body], expect)
        {
            Key = own ? key : null,
            Writes = true,
            Value = value,
            Served = [201],
        };
    }

    private static HostileCase Body(string name, string json, Expect expect = Expect.Refused, string? value = null) =>
        Put("json", name, Utf8(json), expect, value: value);

    private static HostileCase BodyBytes(string name, byte[] body, Expect expect = Expect.Refused) =>
        Put("utf8", name, body, expect, value: null);

    /// <summary>
    /// A request as text; <see cref="OwnKey"/> in it becomes the case's own key. Served, a
    /// PUT is answered 201 and stores the value 1 (<paramref name="served"/> otherwise),
    /// anything else is answered 404 (the key is new).
    /// </summary>
    private static HostileCase Raw(string category, string name, string text, Expect expect, int answers = 1, int[]? served = null, bool? writes = null)
    {
        string? key = null;
        if (text.Contains(OwnKey, StringComparison.Ordinal))
        {
            key = $"hostile-{++_keys}";
            text = text.Replace(OwnKey, key, StringComparison.Ordinal);
        }
        var put = text.StartsWith("PUT ", StringComparison.Ordinal);
        return new(category, name, Latin1(text), expect, answers)
        {
            Key = key,
            Writes = writes ?? (put && key is not null),
            Value = "1",
            Served = served ?? [.. Enumerable.Repeat(put ? 201 : 404, answers)],
        };
    }

    private static HostileCase Get(string category, string name, string target, Expect expect) =>
        Raw(category, name, $"GET {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", expect);

    public static IReadOnlyList<HostileCase> All { get; } = [.. Json(), .. InvalidUtf8(), .. Keys(), .. Methods(), .. ContentTypes(), .. Headers(), .. Framing()];

    private static IEnumerable<HostileCase> Json()
    {
        string[] refused =
        [
            "", " ", "{", "}", "[", "]", "{\"value\"", "{\"value\":", "{\"value\": 1", "{\"value\": 1,}", "{\"value\": 1}}",
            "{\"value\": 1} x", "{\"value\": 1}{\"value\": 2}", "{value: 1}", "{'value': 1}", "{\"value\": tru}", "{\"value\": nul}",
            "{\"value\": NaN}", "{\"value\": Infinity}", "{\"value\": -Infinity}", "{\"value\": -}", "{\"value\": 01}", "{\"value\": 1.}",
            "{\"value\": .5}", "{\"value\": 1e}", "{\"value\": 1e+}", "{\"value\": +1}", "{\"value\": 0x10}", "{\"value\": \"open}",
            "{\"value\": \"bad \\x escape\"}", "{\"value\": \"\\u12\"}", "{\"value\": \"\\uZZZZ\"}", "{\"value\": \"a\u0001b\"}",
            "{\"value\": \"tab\there\"}", "{\"value\": \"new\nline\"}", "[1, 2]", "[{\"value\": 1}]", "1", "\"value\"", "null", "true",
            "{\"valu\": 1}", "{\"Value\": 1}", "{\"VALUE\": 1}", "{\"\": 1}", "{}", "{\"value\": 1 /* c */}", "{\"value\": 1} // c",
            "{\"value\": [1,]}", "{\"value\": [1 2]}", "{\"value\": {\"a\"}}", "{\"value\": {1: 2}}", "{\"value\" 1}", "{\"value\"=1}",
            "{,\"value\": 1}", "{\"value\": 1,,}", "\u0000{\"value\": 1}", "{\"value\": 1}\u0000", "{\"value\":\"\\",
            new string('[', 600) + new string(']', 600), "{\"value\": " + new string('[', 600) + new string(']', 600) + "}",
            new string('[', 100_000), "{\"value\": " + new string('{', 50_000), string.Concat(Enumerable.Repeat("{\"a\":", 1000)) + "1" + new string('}', 1000),
        ];
        var i = 0;
        foreach (var body in refused)
            yield return Body($"refused #{++i}: {Show(body)}", body);

        // With the value a read must find afterwards (null: any; the number's spelling is the store's business).
        (string Name, string Json, string? Value)[] served =
        [
            ("value null", "{\"value\": null}", "null"), ("duplicate value members", "{\"value\": 1, \"value\": 2}", null),
            ("other members too", "{\"a\": [1, {\"b\": null}], \"value\": 3, \"z\": {}}", "3"), ("whitespace everywhere", " \t\r\n{ \n\"value\"\r\n:\t 1 \n} \r\n", "1"),
            ("number 1e999999", "{\"value\": 1e999999}", null), ("number with 1000 digits", "{\"value\": " + new string('9', 1000) + "}", null),
            ("negative zero", "{\"value\": -0}", null), ("tiny exponent", "{\"value\": 1E-400}", null), ("escaped NUL in string", "{\"value\": \"a\\u0000b\"}", "\"a\\u0000b\""),
            ("escaped surrogate pair", "{\"value\": \"\\uD83D\\uDE00\"}", "\"😀\""), ("all escapes", "{\"value\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "\"\\\"\\\\/\\b\\f\\n\\r\\t\""),
            ("nesting 500 deep", "{\"value\": " + new string('[', 500) + new string(']', 500) + "}", new string('[', 500) + new string(']', 500)),
            ("string of 40000 chars", "{\"value\": \"" + new string('x', 40_000) + "\"}", "\"" + new string('x', 40_000) + "\""),
            ("emoji and RTL text", "{\"value\": \"😀 שלום \u202e\"}", "\"😀 שלום \u202e\""),
            ("escaped member name", "{\"\\u0076alue\": 5}", "5"),
        ];
        foreach (var (name, json, value) in served)
            yield return Body(name, json, Expect.Served, value);

        // Either: the JSON reader's own choice on edge cases of the grammar.
        yield return Body("lone high surrogate escape", "{\"value\": \"\\uD800\"}", Expect.Either);
        yield return Body("lone low surrogate escape", "{\"value\": \"\\uDC00\"}", Expect.Either);
        yield return BodyBytes("UTF-8 byte order mark", [0xEF, 0xBB, 0xBF, .. Utf8("{\"value\": 1}")], Expect.Either);
        yield return Put("size", "body over the limit", Utf8("{\"value\": \"" + new string('x', BodyLimit) + "\"}"), Expect.Refused);
        yield return Put("size", "body exactly at the limit", Utf8("{\"value\": \"" + new string('x', BodyLimit - 13) + "\"}"), Expect.Served,
            value: "\"" + new string('x', BodyLimit - 13) + "\"");
    }

    private static IEnumerable<HostileCase> InvalidUtf8()
    {
        (string Name, byte[] Bytes)[] bad =
        [
            ("0xFF", [0xFF]), ("0xC3 0x28", [0xC3, 0x28]), ("overlong slash C0 AF", [0xC0, 0xAF]), ("overlong NUL C0 80", [0xC0, 0x80]),
            ("encoded surrogate ED A0 80", [0xED, 0xA0, 0x80]), ("truncated 4-byte", [0xF0, 0x9F, 0x98]), ("beyond U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
            ("F5 lead", [0xF5, 0x80, 0x80, 0x80]), ("lone continuation 80", [0x80]), ("overlong 3-byte E0 80 AF", [0xE0, 0x80, 0xAF]),
            ("Latin-1 e acute", [0xE9]), ("UTF-16LE text", [0x22, 0x00, 0x61, 0x00, 0x22, 0x00]),
        ];
        foreach (var (name, bytes) in bad)
        {
            yield return BodyBytes($"invalid UTF-8 in a string value: {name}", [.. Utf8("{\"value\": \""), .. bytes, .. Utf8("\"}")]);
            yield return BodyBytes($"invalid UTF-8 in a member name: {name}", [.. Utf8("{\""), .. bytes, .. Utf8("\": 1, \"value\": 2}")]);
        }
        yield return BodyBytes("UTF-16LE body", Encoding.Unicode.GetBytes("{\"value\": 1}"));
        yield return BodyBytes("UTF-32 body", Encoding.UTF32.GetBytes("{\"value\": 1}"));
    }

    private static IEnumerable<HostileCase> Keys()
    {
        var emoji = string.Concat(Enumerable.Repeat("%F0%9F%98%80", 50));
        var maxCodePoint = string.Concat(Enumerable.Repeat("%F4%8F%BF%BF", 50));
        (string Name, string Key, Expect Get, Expect Put)[] keys =
        [
            ("lone percent", "%", Expect.Refused, Expect.Refused), ("percent at the end", "abc%", Expect.Refused, Expect.Refused),
            ("percent and one digit", "%4", Expect.Refused, Expect.Refused), ("non-hex escape %G1", "%G1", Expect.Refused, Expect.Refused),
            ("non-hex escape %zz", "%zz", Expect.Refused, Expect.Refused), ("double percent", "%%41", Expect.Refused, Expect.Refused),
            ("escaped NUL %00", "hostile-%00", Expect.Refused, Expect.Refused), ("overlong slash %C0%AF", "%C0%AF", Expect.Refused, Expect.Refused),
            ("overlong dot %C0%AE", "%C0%AE%C0%AE", Expect.Refused, Expect.Refused), ("escaped surrogate %ED%A0%80", "%ED%A0%80", Expect.Refused, Expect.Refused),
            ("escaped 0xFF", "%FF", Expect.Refused, Expect.Refused), ("beyond U+10FFFF", "%F4%90%80%80", Expect.Refused, Expect.Refused),
            ("truncated sequence", "%E2%82", Expect.Refused, Expect.Refused), ("lone continuation byte", "%80", Expect.Refused, Expect.Refused),
            ("escaped CR LF", "hostile-%0D%0A", Expect.Served, Expect.Served), ("escaped slash", "hostile-a%2Fb", Expect.Served, Expect.Served),
            ("plus sign", "hostile+a", Expect.Served, Expect.Served),
            // Keys come from the raw target: /kvs/%2e%2e is the key "..", never path navigation.
            ("escaped dot dot", "%2e%2e", Expect.Served, Expect.Served),
            ("50 emoji: long in bytes, 50 code points", emoji, Expect.Served, Expect.Served),
            ("50 x U+10FFFF: 200 bytes, 50 code points", maxCodePoint, Expect.Served, Expect.Served),
            ("51 emoji", emoji + "%F0%9F%98%80", Expect.Served, Expect.Refused),
            ("51 ASCII: short in bytes, too many code points", new string('h', 51), Expect.Served, Expect.Refused),
            ("50 ASCII", new string('h', 50), Expect.Served, Expect.Served),
            ("3000 ASCII", new string('h', 3000), Expect.Served, Expect.Refused),
            ("10000 escaped bytes", string.Concat(Enumerable.Repeat("%41", 10_000)), Expect.Served, Expect.Refused),
            ("raw UTF-8 in the target", "h\u00C3\u00A9", Expect.Either, Expect.Either),
            ("raw 0xFF in the target", "h\u00FF", Expect.Refused, Expect.Refused),
            ("query string", "hostile-q?x=1&y=%ZZ", Expect.Served, Expect.Served), ("empty segment", "/hostile", Expect.Served, Expect.Served),
            ("nested path", "hostile/a/b", Expect.Served, Expect.Served),
        ];
        // The key is what is under test, so GET and PUT share it: every GET first (on a store
        // without it: 404), then the PUTs. A key the service refuses to read cannot be read back.
        foreach (var (name, key, get, _) in keys)
            yield return Get("key", $"GET key {name}", "/kvs/" + key, get) with { Key = get == Expect.Served ? key : null };
        foreach (var (name, key, get, put) in keys)
            yield return Put("key", $"PUT key {name}", Utf8("{\"value\": 1}"), put, key: key) with { Key = get == Expect.Served ? key : null };
        yield return Get("key", "request line over 64 KiB", "/kvs/" + new string('h', 70_000), Expect.Refused);
        yield return Get("key", "tab in the target", "/kvs/a\tb", Expect.Refused);
        yield return Get("key", "NUL in the target", "/kvs/a\0b", Expect.Refused);
        yield return Get("key", "fragment in the target", "/kvs/a#b", Expect.Either);
        yield return Get("path", "no key", "/kvs/", Expect.Refused);
        yield return Get("path", "no slash", "/kvs", Expect.Refused);
        yield return Get("path", "upper-case prefix", "/KVS/a", Expect.Refused);
        yield return Get("path", "unknown path", "/admin", Expect.Refused);
        yield return Get("path", "dot segments out of /kvs", "/kvs/../../etc/passwd", Expect.Refused);
        yield return Get("path", "target without leading slash", "kvs/a", Expect.Refused);
        yield return Get("path", "absolute-form", "http://h/kvs/" + OwnKey, Expect.Served);
        yield return Get("path", "absolute-form without path", "http://h", Expect.Refused);
    }

    private static IEnumerable<HostileCase> Methods()
    {
        string[] refused = ["POST", "PATCH", "OPTIONS", "TRACE", "FOO", "get", "M-SEARCH", new string('X', 5000)];
        foreach (var method in refused)
            yield return Raw("method", $"method {Show(method)}", $"{method} /kvs/{OwnKey} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", Expect.Refused);
        yield return Raw("method", "HEAD", "HEAD /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", Expect.Either);
        yield return Raw("method", "CONNECT", "CONNECT h:443 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", Expect.Refused);
        yield return Raw("method", "method with a slash", "G/T /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\n\r\n", Expect.Refused);
        yield return Raw("method", "two spaces", "GET  /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\n\r\n", Expect.Refused);
        yield return Raw("method", "PUT without a body", "PUT /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", Expect.Refused);
        yield return Raw("method", "PUT with Content-Length 0", "PUT /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", Expect.Refused);
        yield return Raw("method", "DELETE with a body", "DELETE /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{\"value\": 1}", Expect.Served);
        yield return Raw("method", "GET with a body", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{\"value\": 1}", Expect.Served);
    }

    private static IEnumerable<HostileCase> ContentTypes()
    {
        string?[] types =
        [
            null, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1",
            "application/json;;;", "\u0001", "", "application/xml", new string('a', 4000), "application/json, text/plain", "*/*",
        ];
        var i = 0;
        foreach (var type in types)
            yield return Put("content-type", $"content type #{++i}: {Show(type ?? "(none)")}", Utf8("{\"value\": 1}"), Expect.Served, type);
    }

    private static IEnumerable<HostileCase> Headers()
    {
        const string put = "PUT /kvs/" + OwnKey + " HTTP/1.1\r\n";
        const string body = "{\"value\": 1}";
        yield return Raw("header", "no Host in HTTP/1.1", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nConnection: close\r\n\r\n", Expect.Refused);
        yield return Raw("header", "two Host headers", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n", Expect.Refused);
        yield return Raw("header", "Host with a path", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: a/b\r\nConnection: close\r\n\r\n", Expect.Refused);
        yield return Raw("header", "Host with userinfo", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: u@a\r\nConnection: close\r\n\r\n", Expect.Refused);
        yield return Raw("header", "Content-Length twice, same", put + "Host: h\r\nContent-Length: 12\r\nContent-Length: 12\r\nConnection: close\r\n\r\n" + body, Expect.Either);
        yield return Raw("header", "Content-Length twice, different", put + "Host: h\r\nContent-Length: 12\r\nContent-Length: 5\r\nConnection: close\r\n\r\n" + body, Expect.Refused);
        yield return Raw("header", "Content-Length negative", put + "Host: h\r\nContent-Length: -1\r\nConnection: close\r\n\r\n" + body, Expect.Refused);
        yield return Raw("header", "Content-Length not a number", put + "Host: h\r\nContent-Length: twelve\r\nConnection: close\r\n\r\n" + body, Expect.Refused);
        yield return Raw("header", "Content-Length with a sign", put + "Host: h\r\nContent-Length: +12\r\nConnection: close\r\n\r\n" + body, Expect.Either);
        yield return Raw("header", "Content-Length past 2^63", put + "Host: h\r\nContent-Length: 99999999999999999999\r\nConnection: close\r\n\r\n" + body, Expect.Refused);
        yield return Raw("header", "Content-Length over the limit, no body", put + "Host: h\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\n", Expect.Refused);
        yield return Raw("header", "Content-Length larger than the body", put + "Host: h\r\nContent-Length: 100\r\nConnection: close\r\n\r\n" + body, Expect.Refused);
        yield return Raw("header", "Content-Length and chunked", put + "Host: h\r\nContent-Length: 12\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nc\r\n" + body + "\r\n0\r\n\r\n", Expect.Either);
        yield return Raw("header", "line without a colon", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nNoColonHere\r\n\r\n", Expect.Refused);
        yield return Raw("header", "space before the colon", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n", Expect.Refused);
        yield return Raw("header", "obsolete line folding", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  folded\r\n\r\n", Expect.Refused);
        yield return Raw("header", "bad character in a name", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nX(A): 1\r\n\r\n", Expect.Refused);
        yield return Raw("header", "NUL in a value", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n", Expect.Refused);
        yield return Raw("header", "Latin-1 in a value", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nX-A: caf\u00E9\r\nConnection: close\r\n\r\n", Expect.Either);
        yield return Raw("header", "one 40 KiB header", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nX-A: " + new string('a', 40_000) + "\r\n\r\n", Expect.Refused);
        yield return Raw("header", "150 headers", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\n" + string.Concat(Enumerable.Range(0, 150).Select(i => $"X-{i}: 1\r\n")) + "\r\n", Expect.Refused);
        yield return Raw("header", "40 KiB of small headers", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\n" + string.Concat(Enumerable.Range(0, 90).Select(i => $"X-{i}: {new string('b', 440)}\r\n")) + "\r\n", Expect.Refused);
        yield return Raw("header", "LF-only line endings", "GET /kvs/" + OwnKey + " HTTP/1.1\nHost: h\nConnection: close\n\n", Expect.Either);
        yield return Raw("header", "Connection: upgrade to h2c", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n", Expect.Served);
        yield return Raw("header", "Upgrade: websocket", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", Expect.Served);
        yield return Raw("header", "Via already carrying 20 hops", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nVia: " + string.Join(", ", Enumerable.Range(0, 20).Select(i => $"1.1 p{i}")) + "\r\nConnection: close\r\n\r\n", Expect.Either);
    }

    private static IEnumerable<HostileCase> Framing()
    {
        const string put = "PUT /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Type: application/json\r\n";
        const string chunked = put + "Transfer-Encoding: chunked\r\n\r\n";
        yield return Raw("chunked", "one chunk", chunked + "c\r\n{\"value\": 1}\r\n0\r\n\r\n", Expect.Served);
        yield return Raw("chunked", "one byte per chunk", chunked + string.Concat("{\"value\": 1}".Select(c => $"1\r\n{c}\r\n")) + "0\r\n\r\n", Expect.Served);
        yield return Raw("chunked", "chunk extension", chunked + "c;name=value\r\n{\"value\": 1}\r\n0\r\n\r\n", Expect.Served);
        yield return Raw("chunked", "trailer fields", chunked + "c\r\n{\"value\": 1}\r\n0\r\nX-Trailer: 1\r\n\r\n", Expect.Served);
        yield return Raw("chunked", "upper-case hex size", chunked + "C\r\n{\"value\": 1}\r\n0\r\n\r\n", Expect.Served);
        yield return Raw("chunked", "size not hex", chunked + "zz\r\n{\"value\": 1}\r\n0\r\n\r\n", Expect.Refused);
        yield return Raw("chunked", "size overflows", chunked + "fffffffffffffffffff\r\n{\"value\": 1}\r\n0\r\n\r\n", Expect.Refused);
        yield return Raw("chunked", "negative size", chunked + "-c\r\n{\"value\": 1}\r\n0\r\n\r\n", Expect.Refused);
        yield return Raw("chunked", "size larger than the data", chunked + "ff\r\n{\"value\": 1}\r\n0\r\n\r\n", Expect.Refused);
        yield return Raw("chunked", "size smaller than the data", chunked + "2\r\n{\"value\": 1}\r\n0\r\n\r\n", Expect.Refused);
        yield return Raw("chunked", "missing CRLF after data", chunked + "c\r\n{\"value\": 1}0\r\n\r\n", Expect.Refused);
        yield return Raw("chunked", "no last chunk", chunked + "c\r\n{\"value\": 1}\r\n", Expect.Refused);
        yield return Raw("chunked", "chunks over the limit", chunked + string.Concat(Enumerable.Repeat("4000\r\n" + new string(' ', 0x4000) + "\r\n", 5)) + "0\r\n\r\n", Expect.Refused);
        yield return Raw("chunked", "transfer coding gzip", put + "Transfer-Encoding: gzip\r\n\r\nabc", Expect.Refused);
        yield return Raw("chunked", "chunked then gzip", put + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", Expect.Refused);
        yield return Raw("chunked", "chunked in HTTP/1.0", "PUT /kvs/" + OwnKey + " HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n{\"value\": 1}\r\n0\r\n\r\n", Expect.Either);
        yield return Raw("expect", "Expect: 100-continue", put + "Expect: 100-continue\r\nContent-Length: 12\r\n\r\n{\"value\": 1}", Expect.Served);
        yield return Raw("expect", "Expect: 100-continue, body never sent", put + "Expect: 100-continue\r\nContent-Length: 12\r\n\r\n", Expect.Refused);
        yield return Raw("expect", "Expect: something else", put + "Expect: 200-ok\r\nContent-Length: 12\r\n\r\n{\"value\": 1}", Expect.Either);
        yield return Raw("version", "HTTP/1.0 GET", "GET /kvs/" + OwnKey + " HTTP/1.0\r\n\r\n", Expect.Served);
        yield return Raw("version", "HTTP/1.0 PUT", "PUT /kvs/" + OwnKey + " HTTP/1.0\r\nContent-Length: 12\r\n\r\n{\"value\": 1}", Expect.Served);
        yield return Raw("version", "HTTP/1.0 keep-alive, two requests", "GET /kvs/" + OwnKey + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /kvs/" + OwnKey + " HTTP/1.0\r\n\r\n", Expect.Served, answers: 2);
        yield return Raw("version", "HTTP/0.9", "GET /kvs/" + OwnKey + "\r\n\r\n", Expect.Refused);
        yield return Raw("version", "HTTP/1.2", "GET /kvs/" + OwnKey + " HTTP/1.2\r\nHost: h\r\n\r\n", Expect.Either);
        yield return Raw("version", "HTTP/2.0 in an HTTP/1 request line", "GET /kvs/" + OwnKey + " HTTP/2.0\r\nHost: h\r\n\r\n", Expect.Either);
        yield return Raw("version", "lower-case http/1.1", "GET /kvs/" + OwnKey + " http/1.1\r\nHost: h\r\n\r\n", Expect.Refused);
        yield return Raw("version", "HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Expect.Refused);
        yield return Raw("pipelining", "PUT, GET, DELETE in one write", Pipelined(3), Expect.Served, answers: 3, served: [201, 200, 200], writes: false);
        yield return Raw("pipelining", "20 GETs in one write", string.Concat(Enumerable.Repeat("GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\n\r\n", 19)) + "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", Expect.Served, answers: 20);
        yield return Raw("pipelining", "good request then garbage", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\n\r\n\u0001\u0002garbage\r\n\r\n", Expect.Either, answers: 2);
        yield return Raw("pipelining", "body shorter than declared, then a request", "PUT /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nContent-Length: 20\r\n\r\n{\"value\": 1}GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\n\r\n", Expect.Refused);
        yield return Raw("garbage", "binary noise", new string(Enumerable.Range(0, 1024).Select(i => (char)((i * 97 + 13) % 256)).ToArray()), Expect.Refused);
        yield return new HostileCase("garbage", "TLS ClientHello", [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03, .. new byte[64]], Expect.Refused);
        yield return Raw("garbage", "empty lines only", "\r\n\r\n\r\n", Expect.Refused);
        yield return Raw("garbage", "nothing at all", "", Expect.Refused);
        yield return Raw("garbage", "request line only, then close", "GET /kvs/" + OwnKey + " HTTP/1.1\r\n", Expect.Refused);
        yield return Raw("garbage", "headers cut short", "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nX-A: 1", Expect.Refused);
    }

    private static string Pipelined(int _) =>
        "PUT /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n{\"value\": 1}" +
        "GET /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\n\r\n" +
        "DELETE /kvs/" + OwnKey + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";

    private static string Show(string s)
    {
        var shown = s.Length > 40 ? s[..40] + $"...({s.Length} chars)" : s;
        return new string(shown.Select(c => c < ' ' || c > '~' ? '?' : c).ToArray());
    }
}
