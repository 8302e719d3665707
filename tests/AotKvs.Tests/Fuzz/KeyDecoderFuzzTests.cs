using System.Text.Unicode;
using System.Text;
using AotKvs.Endpoints;
using AotKvs.Protocol;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http;
using Xunit.Abstractions;
using Xunit;

namespace AotKvs.Tests.Fuzz;

/// <summary>
/// From the raw request target to the key's bytes, as the endpoints go: RequestTarget
/// (PathAndQuery, Path), KeyRules (Locate, TryDecode, CheckOverlong, IsTooLong, CodePoints)
/// and DecodedKey.TryDecode. Each input is read as a target twice (its bytes as Latin-1, and
/// as UTF-8). Nothing throws, every status is one of the four, a decode agrees with a second,
/// independent decoder, a Valid key round-trips through percent-encoding, and invalid UTF-8
/// or a bad escape is never Valid.
/// </summary>
[Collection(FuzzCollection.Name), Trait("Category", "Unit")]
public sealed class KeyDecoderFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] Corpus =
    [
        "/kvs/abc", "/kvs/a%20b?x=1", "/kvs/a+b", "/kvs/a%2Fb", "/kvs/a/b", "/kvs/caf%C3%A9", "/kvs/%F0%9F%98%80", "/kvs/%00",
        "/kvs//", "/kvs", "/kvs/", "/kvsx", "/KVS/a", "/other", "/kvs/%", "/kvs/%4", "/kvs/%G1", "/kvs/%C3", "/kvs/%C3%28",
        "/kvs/%C0%AF", "/kvs/%ED%A0%80", "/kvs/%F4%90%80%80", "/kvs/\u00e9", "/kvs/%g0%9F%98%80", "/kvs/%/0", "/kvs/\u007f",
        "http://host/kvs/a", "http://host:8090/kvs/a?x=1", "http://host", "http://host?x=1", "https://other.example/kvs/%2F",
        "://host/kvs/a", "*", "kvs/a", "host:8090", "?x", "/kvs/?", "/kvs/a?b?c", "/kvs/%3F%3b",
        "/kvs/" + string.Concat(Enumerable.Repeat("%C3%A9", 300)),                    // long, well encoded
        "/kvs/" + new string('k', KeyRules.MaxEncodedLength) + "%C3",                  // past the limit, badly encoded
        "/kvs/" + string.Concat(Enumerable.Repeat("%F0%9F%98%80", 51)),                // 51 code points
        "/kvs/" + new string('k', 50), "/kvs/" + new string('k', 51),
    ];

    private static readonly byte[][] Dictionary =
        [.. new[] { "/kvs/", "/kvs", "%", "%2F", "%2f", "%C3%A9", "%F0%9F%98%80", "%ED%A0%80", "%C0%AF", "%FF", "%00", "%G", "?", "/", "+",
            "http://", "://", "#" }.Select(Encoding.ASCII.GetBytes)];

    internal delegate KeyStatus Decoder(ReadOnlySpan<char> encoded, Span<byte> destination, out int length);

    private static readonly FuzzTarget Target = new(
        "KeyDecoder", [.. Corpus.Select(Encoding.UTF8.GetBytes)], Generate, (input, context) => Check(input, context, KeyRules.TryDecode))
    {
        Dictionary = Dictionary,
        MaxInputBytes = 16 * 1024,
    };

    [Fact]
    public void Targets_and_keys_decode_consistently_and_never_throw()
    {
        var result = Fuzzer.Run(Target);
        output.WriteLine(result.Summary);
        result.AssertClean(nameof(KeyDecoderFuzzTests));
    }

    [Fact]
    public void The_oracle_catches_a_decoder_that_passes_a_bad_escape_through()
    {
        var result = RunBroken("bad escapes literal", (ReadOnlySpan<char> encoded, Span<byte> destination, out int length) =>
        {
            // '%' without two hex digits after it is taken as a plain '%'.
            length = 0;
            for (var i = 0; i < encoded.Length; i++)
            {
                if (encoded[i] == '%' && i + 2 < encoded.Length && Uri.IsHexDigit(encoded[i + 1]) && Uri.IsHexDigit(encoded[i + 2]))
                {
                    destination[length++] = Convert.ToByte(encoded.Slice(i + 1, 2).ToString(), 16);
                    i += 2;
                }
                else if (encoded[i] <= 0x7F)
                    destination[length++] = (byte)encoded[i];
                else
                    return KeyStatus.Malformed;
            }
            return Utf8.IsValid(destination[..length]) ? KeyStatus.Valid : KeyStatus.Malformed;
        });
        Assert.Contains("independent decoder", result.Failure!.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_oracle_catches_a_decoder_that_lets_invalid_UTF8_through()
    {
        var result = RunBroken("no UTF-8 check", (ReadOnlySpan<char> encoded, Span<byte> destination, out int length) =>
        {
            // Well-formed escapes are taken whatever bytes they make.
            var status = KeyRules.TryDecode(encoded, destination, out length);
            return status == KeyStatus.Malformed && AllEscapes(encoded) ? KeyStatus.Valid : status;
        });
        Assert.Contains("invalid UTF-8", result.Failure!.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_oracle_catches_a_decoder_whose_keys_do_not_round_trip()
    {
        var result = RunBroken("off by one in A-F", (ReadOnlySpan<char> encoded, Span<byte> destination, out int length) =>
        {
            // A key written as upper-case escapes alone, one of them %Dx, is refused.
            var status = KeyRules.TryDecode(encoded, destination, out length);
            return status == KeyStatus.Valid && AllEscapes(encoded) && encoded.Length >= 6 && encoded.Contains("%D", StringComparison.Ordinal)
                ? KeyStatus.Malformed : status;
        });
        Assert.Contains("round trip", result.Failure!.Detail, StringComparison.Ordinal);
    }

    /// <summary>"%XX%XX...": nothing but well-formed escapes.</summary>
    private static bool AllEscapes(ReadOnlySpan<char> encoded)
    {
        if (encoded.IsEmpty || encoded.Length % 3 != 0)
            return false;
        for (var i = 0; i < encoded.Length; i += 3)
            if (encoded[i] != '%' || !Uri.IsHexDigit(encoded[i + 1]) || !Uri.IsHexDigit(encoded[i + 2]))
                return false;
        return true;
    }

    private static FuzzResult RunBroken(string name, Decoder decoder)
    {
        var broken = Target with { Name = $"KeyDecoder ({name})", Oracle = (input, context) => Check(input, context, decoder) };
        var result = Fuzzer.Run(broken, new FuzzBudget(TimeSpan.FromSeconds(20), 100_000, Seed: 1));
        Assert.Equal(FuzzFailureKind.Exception, result.Failure?.Kind);
        return result;
    }

    private static void Check(byte[] input, FuzzContext context, Decoder decoder)
    {
        CheckTarget(Encoding.Latin1.GetString(input), context, decoder);
        CheckTarget(Encoding.UTF8.GetString(input), context, decoder);
    }

    private static void CheckTarget(string raw, FuzzContext context, Decoder decoder)
    {
        var http = new DefaultHttpContext();
        http.Features.Get<IHttpRequestFeature>()!.RawTarget = raw;
        string? pathAndQuery;
        using (context.Measure())
            pathAndQuery = RequestTarget.PathAndQuery(http);
        if (raw.StartsWith('/'))
            Assert.Equal(raw, pathAndQuery);
        if (pathAndQuery is null)
        {
            Assert.False(raw.StartsWith('/') || raw.Contains("://", StringComparison.Ordinal), "null for a path or an absolute URI");
            return;
        }
        // An absolute-form target keeps only what follows its authority.
        Assert.StartsWith("/", pathAndQuery, StringComparison.Ordinal);
        Assert.True(raw.EndsWith(pathAndQuery, StringComparison.Ordinal) || pathAndQuery == "/"
            || pathAndQuery.StartsWith("/?", StringComparison.Ordinal) && raw.EndsWith(pathAndQuery[1..], StringComparison.Ordinal),
            $"{pathAndQuery} is not the end of {raw}");

        var path = RequestTarget.Path(pathAndQuery).ToString();
        Assert.DoesNotContain('?', path);
        Assert.True(pathAndQuery.StartsWith(path, StringComparison.Ordinal) && (pathAndQuery.Length == path.Length || pathAndQuery[path.Length] == '?'));

        KeyStatus located;
        ReadOnlySpan<char> encoded;
        using (context.Measure())
            located = KeyPath.Locate(path, out encoded);
        switch (located)
        {
            case KeyStatus.Missing:
                Assert.True(path is "/kvs" or "/kvs/", $"{path} is Missing");
                return;
            case KeyStatus.NotKeyPath:
                Assert.False(path.StartsWith("/kvs/", StringComparison.Ordinal) || path == "/kvs", $"{path} is not a key path");
                return;
            case KeyStatus.Valid:
                Assert.True(path.StartsWith("/kvs/", StringComparison.Ordinal) && encoded.SequenceEqual(path.AsSpan(5)) && !encoded.IsEmpty);
                break;
            default:
                Assert.Fail($"Locate gave {located} for {path}");
                break;
        }

        var expected = Reference(encoded);
        var destination = new byte[encoded.Length];
        KeyStatus decoded;
        int length;
        using (context.Measure())
            decoded = decoder(encoded, destination, out length);
        Assert.True(decoded is KeyStatus.Valid or KeyStatus.Malformed, $"TryDecode gave {decoded}");
        if (decoded == KeyStatus.Valid)
        {
            var key = destination[..length];
            Assert.True(Utf8.IsValid(key), "Valid for invalid UTF-8");
            Assert.True(RoundTrips(key, decoder), "no round trip: percent-encoding the key and decoding it again gives other bytes");
        }
        Assert.True(expected is null ? decoded == KeyStatus.Malformed : decoded == KeyStatus.Valid && destination.AsSpan(0, length).SequenceEqual(expected),
            $"the independent decoder says {(expected is null ? "malformed" : Convert.ToHexString(expected))}, TryDecode {decoded}");

        // As the endpoints do: a key past the longest storable encoding is only checked, the others decoded into a pooled buffer.
        if (encoded.Length > KeyRules.MaxEncodedLength)
        {
            KeyStatus overlong;
            using (context.Measure())
                overlong = KeyRules.CheckOverlong(encoded);
            Assert.Equal(expected is null ? KeyStatus.Malformed : KeyStatus.Valid, overlong);
            return;
        }
        using (context.Measure())
        {
            var status = DecodedKey.TryDecode(encoded, out var key);
            using (key)
            {
                Assert.Equal(expected is null ? KeyStatus.Malformed : KeyStatus.Valid, status);
                if (status != KeyStatus.Valid)
                    return;
                Assert.True(key.Utf8.Span.SequenceEqual(expected), "DecodedKey differs from TryDecode");
                var codePoints = Encoding.UTF8.GetString(expected!).EnumerateRunes().Count();
                Assert.Equal(codePoints, KeyRules.CodePoints(key.Utf8.Span));
                Assert.Equal(codePoints > KeyRules.MaxCodePoints, KeyRules.IsTooLong(key.Utf8.Span));
            }
        }
    }

    /// <summary>Every byte percent-encoded (upper-case hex), then only the unsafe ones (lower-case): both decode to the same bytes.</summary>
    private static bool RoundTrips(byte[] key, Decoder decoder)
    {
        var all = string.Concat(key.Select(b => $"%{b:X2}"));
        var some = string.Concat(key.Select(b => b is >= (byte)'a' and <= (byte)'z' or >= (byte)'0' and <= (byte)'9' ? ((char)b).ToString() : $"%{b:x2}"));
        foreach (var encoded in new[] { all, some })
        {
            var destination = new byte[encoded.Length];
            if (decoder(encoded, destination, out var length) != KeyStatus.Valid || !destination.AsSpan(0, length).SequenceEqual(key))
                return false;
        }
        return true;
    }

    /// <summary>A second decoder, written otherwise: null for a bad escape, a non-ASCII character or bytes that are not UTF-8.</summary>
    private static byte[]? Reference(ReadOnlySpan<char> encoded)
    {
        var bytes = new List<byte>();
        for (var i = 0; i < encoded.Length; i++)
        {
            if (encoded[i] == '%')
            {
                if (i + 2 >= encoded.Length || !Uri.IsHexDigit(encoded[i + 1]) || !Uri.IsHexDigit(encoded[i + 2]))
                    return null;
                bytes.Add(Convert.ToByte(encoded.Slice(i + 1, 2).ToString(), 16));
                i += 2;
            }
            else if (char.IsAscii(encoded[i]))
                bytes.Add((byte)encoded[i]);
            else
                return null;
        }
        try
        {
            _ = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString([.. bytes]);
            return [.. bytes];
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static readonly string[] Prefixes =
        ["/kvs/", "/kvs/", "/kvs/", "/kvs/", "/kvs", "/kvsx", "/KVS/", "http://host/kvs/", "https://h:8090/kvs/", "://h/kvs/", "http://host",
         "*", "", "kvs/", "/", "/other/", "/kvs//"];

    /// <summary>A target: a prefix, then a key of plain characters, escapes of whole UTF-8 characters and broken ones, maybe a query.</summary>
    private static byte[] Generate(Random random)
    {
        var text = new StringBuilder(random.Pick(Prefixes));
        var pieces = random.Chance(5) ? random.Next(100, 2000) : random.Next(12);
        for (var i = 0; i < pieces; i++)
        {
            switch (random.Next(10))
            {
                case 0 or 1 or 2:
                    text.Append((char)random.Next(0x21, 0x7F));
                    break;
                case 3 or 4:
                {
                    // A whole character, escaped: ASCII, two, three or four bytes of UTF-8.
                    var rune = random.Pick([random.Next(0x80), random.Next(0x80, 0x800), random.Next(0x800, 0xD800), random.Next(0xE000, 0x10000), random.Next(0x10000, 0x110000)]);
                    foreach (var b in Encoding.UTF8.GetBytes(new Rune(rune).ToString()))
                        text.Append(random.Chance(50) ? $"%{b:X2}" : $"%{b:x2}");
                    break;
                }
                case 5:
                    text.Append(random.Pick(["%", "%4", "%G1", "%g0", "%/0", "%:0", "%@0", "%`0", "%%", "%2", "% 2"]));
                    break;
                case 6:
                    text.Append(random.Pick(["%C3", "%C3%28", "%C0%AF", "%ED%A0%80", "%F4%90%80%80", "%FF", "%80", "%F0%9F%98", "%E2%82"]));
                    break;
                case 7:
                    text.Append(random.Pick(["/", "+", "%2F", "%2f", "?", "#", "%3F", ";", "="]));
                    break;
                case 8:
                    text.Append(random.Pick(["\u00e9", "\u0080", "\u00ff", "\u20ac", "\ud83d\ude00", "\ud83d", "\u0000"]));
                    break;
                default:
                    text.Append(random.Pick(["%00", "%7F", "%7e", "%41", "%6a%6F"]));
                    break;
            }
        }
        if (random.Chance(20))
            text.Append('?').Append(random.Digits(random.Next(5)));
        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
