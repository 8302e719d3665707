using System.Text;
using AotKvs.Endpoints;
using AotKvs.Protocol;
using Xunit;

namespace AotKvs.Tests.Unit;

[Trait("Category", "Unit")]
public sealed class KeyRulesTests
{
    [Theory]
    [InlineData("/kvs/abc", "abc")]
    [InlineData("/kvs/a%20b", "a b")]
    [InlineData("/kvs/a+b", "a+b")]
    [InlineData("/kvs/a%2Fb", "a/b")]
    [InlineData("/kvs/a/b", "a/b")]
    [InlineData("/kvs/%3F%3b", "?;")]
    [InlineData("/kvs/caf%C3%A9", "café")]
    [InlineData("/kvs/%F0%9F%98%80", "😀")]
    [InlineData("/kvs/%00", "\0")]
    [InlineData("/kvs//", "/")]
    public void Decodes_the_rest_of_the_path_as_percent_encoded_UTF8(string path, string expected)
    {
        Assert.Equal(KeyStatus.Valid, Decode(path, out var key));
        Assert.Equal(expected, key);
    }

    [Theory]
    [InlineData("/kvs")]
    [InlineData("/kvs/")]
    public void No_key_is_missing(string path) =>
        Assert.Equal(KeyStatus.Missing, Decode(path, out _));

    [Theory]
    [InlineData("/kvsx")]
    [InlineData("/KVS/a")]
    [InlineData("/other")]
    public void Other_paths_are_not_key_paths(string path) =>
        Assert.Equal(KeyStatus.NotKeyPath, Decode(path, out _));

    [Theory]
    [InlineData("/kvs/%")]
    [InlineData("/kvs/%4")]
    [InlineData("/kvs/%G1")]
    [InlineData("/kvs/%C3")]          // truncated sequence
    [InlineData("/kvs/%C3%28")]       // bad continuation
    [InlineData("/kvs/%C0%AF")]       // overlong '/'
    [InlineData("/kvs/%ED%A0%80")]    // UTF-16 surrogate
    [InlineData("/kvs/%F4%90%80%80")] // beyond U+10FFFF
    [InlineData("/kvs/é")]            // never encoded
    public void Bad_encodings_are_malformed(string path) =>
        Assert.Equal(KeyStatus.Malformed, Decode(path, out _));

    [Fact]
    public void Long_encoded_keys_decode_whole()
    {
        var path = "/kvs/" + string.Concat(Enumerable.Repeat("%C3%A9", 300));
        Assert.Equal(KeyStatus.Valid, Decode(path, out var key));
        Assert.Equal(new string('é', 300), key);
    }

    [Theory]
    [InlineData(50, 1, false)]
    [InlineData(51, 1, true)]
    [InlineData(50, 2, false)] // 50 emoji: 200 UTF-8 bytes, still 50 code points
    [InlineData(51, 2, true)]
    public void Length_limit_counts_code_points(int count, int charsEach, bool tooLong)
    {
        var key = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(charsEach == 1 ? "k" : "😀", count)));
        Assert.Equal(count, KeyRules.CodePoints(key));
        Assert.Equal(tooLong, KeyRules.IsTooLong(key));
    }

    /// <summary>The path's key as a string, the way the endpoint decodes it.</summary>
    private static KeyStatus Decode(string path, out string key)
    {
        key = "";
        var status = KeyPath.Locate(path, out var encoded);
        if (status != KeyStatus.Valid)
            return status;
        var bytes = new byte[encoded.Length];
        status = KeyRules.TryDecode(encoded, bytes, out var length);
        key = Encoding.UTF8.GetString(bytes, 0, length);
        return status;
    }

    [Theory]
    [InlineData("/kvs/%6a%6f%6A%6F%30%39", "jojo09")] // every edge of the hex digits
    [InlineData("/kvs/%7e%7E", "~~")]
    [InlineData("/kvs/\u007f", "\u007f")]            // the last ASCII character is still ASCII
    public void Hex_digits_in_either_case_and_all_of_ASCII_decode(string path, string expected)
    {
        Assert.Equal(KeyStatus.Valid, Decode(path, out var key));
        Assert.Equal(expected, key);
    }

    [Theory]
    [InlineData("/kvs/%g0")]
    [InlineData("/kvs/%g0%9F%98%80")] // a bad digit where a lead byte would make the rest valid
    [InlineData("/kvs/%0g")]
    [InlineData("/kvs/%G0")]
    [InlineData("/kvs/%/0")]
    [InlineData("/kvs/%:0")]
    [InlineData("/kvs/%@0")]
    [InlineData("/kvs/%`0")]
    [InlineData("/kvs/\u0080")]
    public void Characters_beside_the_hex_digits_are_malformed(string path) =>
        Assert.Equal(KeyStatus.Malformed, Decode(path, out _));

    [Theory]
    [InlineData(50, 0, false)]  // 50 bytes: short whatever they hold
    [InlineData(49, 1, false)]  // 51 bytes, 50 code points
    [InlineData(51, 0, true)]
    public void Length_limit_at_exactly_50(int ascii, int twoByte, bool tooLong)
    {
        var key = Encoding.UTF8.GetBytes(new string('k', ascii) + new string('é', twoByte));
        Assert.Equal(tooLong, KeyRules.IsTooLong(key));
    }
}
