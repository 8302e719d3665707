using AotKvs.Endpoints;
using AotKvs.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// If-Match and If-None-Match as RFC 9110 writes them (§8.8.3 entity tags, §5.6.1 lists,
/// §13.1.1–13.1.2), parsed into the versions they name in the scope "s0".
/// </summary>
[Trait("Category", "Unit")]
public sealed class PreconditionHeaderTests
{
    private static readonly EntityTags Tags = new("s0");

    /// <summary>The versions named, "*" for any, "malformed", or "absent".</summary>
    private static string Parse(bool weakMatches, params string[] lines)
    {
        if (!Preconditions.TryParse(new StringValues(lines), weakMatches, Tags, out var set))
            return "malformed";
        return !set.Present ? "absent" : set.Any ? "*" : string.Join(",", set.Versions.ToArray());
    }

    private static string IfMatch(params string[] lines) => Parse(weakMatches: false, lines);

    private static string IfNoneMatch(params string[] lines) => Parse(weakMatches: true, lines);

    [Theory]
    [InlineData("*", "*")]
    [InlineData(" *\t", "*")]
    [InlineData("\"s0-1\"", "1")]
    [InlineData("\"s0-1\", \"s0-a\"", "1,10")]
    [InlineData("\"s0-1\",\"s0-2\"", "1,2")]
    [InlineData("  \"s0-1\" \t,\t \"s0-2\"  ", "1,2")]
    [InlineData(",\"s0-1\",, ,\"s0-2\",", "1,2")] // empty elements are ignored (§5.6.1)
    [InlineData(",", "")]
    [InlineData("", "")] // an empty list: present, naming nothing
    [InlineData("\"s0-ffffffffffffffff\"", "18446744073709551615")]
    [InlineData("\"s0-1\", \"s0-1\"", "1,1")]
    public void Lists_star_and_whitespace(string field, string named)
    {
        Assert.Equal(named, IfMatch(field));
        Assert.Equal(named, IfNoneMatch(field));
    }

    [Theory]
    [InlineData("\"other-1\"")] // another store's scope
    [InlineData("\"s0-01\"")] // leading zero: another string, so another tag
    [InlineData("\"s0-A\"")] // upper case: likewise
    [InlineData("\"s0-0\"")] // 0 is no version
    [InlineData("\"s0-\"")]
    [InlineData("\"s0\"")]
    [InlineData("\"s01\"")]
    [InlineData("\"s0-11111111111111111\"")] // 17 digits
    [InlineData("\"s0-1g\"")]
    [InlineData("\"\"")]
    [InlineData("\"S0-1\"")]
    [InlineData("\"s0-1\u00e9\"")] // obs-text is allowed in a tag, and names nothing here
    [InlineData("\"x!#~\"")]
    public void Well_formed_tags_that_are_not_ours_name_nothing_but_are_present(string field)
    {
        Assert.Equal("", IfMatch(field));
        Assert.Equal("", IfNoneMatch(field));
    }

    [Fact]
    public void Weak_tags_never_match_in_If_Match_and_match_by_opaque_tag_in_If_None_Match()
    {
        Assert.Equal("", IfMatch("W/\"s0-1\""));
        Assert.Equal("2", IfMatch("W/\"s0-1\", \"s0-2\""));
        Assert.Equal("1", IfNoneMatch("W/\"s0-1\""));
        Assert.Equal("1,2", IfNoneMatch("W/\"s0-1\", \"s0-2\""));
    }

    [Theory]
    [InlineData("s0-1")] // unquoted
    [InlineData("\"s0-1")] // unterminated
    [InlineData("s0-1\"")]
    [InlineData("\"s0-1\" \"s0-2\"")] // a list needs commas
    [InlineData("\"s0-1\";x")]
    [InlineData("\"s0-1\"x")]
    [InlineData("\"s0 1\"")] // no spaces inside a tag
    [InlineData("\"s0-\"1\"")]
    [InlineData("\"s0-1\t\"")]
    [InlineData("\"s0-\u007f\"")]
    [InlineData("w/\"s0-1\"")] // "W/" is case-sensitive
    [InlineData("W/ \"s0-1\"")]
    [InlineData("W/s0-1")]
    [InlineData("W/")]
    [InlineData("W")]
    [InlineData("*, *")] // "*" stands alone
    [InlineData("*, \"s0-1\"")]
    [InlineData("\"s0-1\", *")]
    [InlineData("**")]
    [InlineData("* \"s0-1\"")]
    [InlineData("\"s0-1\",;")]
    public void Anything_else_is_malformed(string field)
    {
        Assert.Equal("malformed", IfMatch(field));
        Assert.Equal("malformed", IfNoneMatch(field));
    }

    [Fact]
    public void A_header_on_several_lines_is_one_list()
    {
        Assert.Equal("1,2,3", IfMatch("\"s0-1\"", "\"s0-2\", \"s0-3\""));
        Assert.Equal("1", IfMatch("", "\"s0-1\"", ","));
        Assert.Equal("malformed", IfMatch("*", "\"s0-1\""));
        Assert.Equal("malformed", IfMatch("*", "*"));
        Assert.Equal("*", IfMatch("*", ""));
        Assert.Equal("malformed", IfNoneMatch("\"s0-1\"", "s0-2"));
    }

    [Fact]
    public void No_header_is_no_condition()
    {
        Assert.Equal("absent", IfMatch());
        Assert.True(Preconditions.TryRead(new HeaderDictionary(), Tags, out var condition));
        Assert.True(condition.IsNone);
    }

    [Fact]
    public void A_malformed_header_of_either_kind_fails_the_request()
    {
        Assert.False(Preconditions.TryRead(new HeaderDictionary { ["If-Match"] = "*", ["If-None-Match"] = "s0-1" }, Tags, out _));
        Assert.False(Preconditions.TryRead(new HeaderDictionary { ["If-Match"] = "s0-1", ["If-None-Match"] = "*" }, Tags, out _));
    }

    [Fact]
    public void If_Match_is_evaluated_before_If_None_Match()
    {
        var headers = new HeaderDictionary { ["If-Match"] = "\"s0-5\"", ["If-None-Match"] = "\"s0-6\"" };
        Assert.True(Preconditions.TryRead(headers, Tags, out var condition));
        Assert.Equal(PreconditionResult.Holds, condition.Evaluate(5));
        Assert.Equal(PreconditionResult.IfMatchFailed, condition.Evaluate(6)); // both fail: If-Match wins (§13.2.2)
        Assert.Equal(PreconditionResult.IfMatchFailed, condition.Evaluate(7));
        Assert.Equal(PreconditionResult.IfMatchFailed, condition.Evaluate(0));

        Assert.True(Preconditions.TryRead(new HeaderDictionary { ["If-Match"] = "*", ["If-None-Match"] = "W/\"s0-5\"" }, Tags, out condition));
        Assert.Equal(PreconditionResult.IfNoneMatchFailed, condition.Evaluate(5));
        Assert.Equal(PreconditionResult.Holds, condition.Evaluate(4));
        Assert.Equal(PreconditionResult.IfMatchFailed, condition.Evaluate(0));
    }

    [Fact]
    public void If_None_Match_star_fails_only_on_a_present_key()
    {
        Assert.True(Preconditions.TryRead(new HeaderDictionary { ["If-None-Match"] = "*" }, Tags, out var condition));
        Assert.Equal(PreconditionResult.Holds, condition.Evaluate(0));
        Assert.Equal(PreconditionResult.IfNoneMatchFailed, condition.Evaluate(1));
    }

    [Fact]
    public void Tags_are_formatted_as_scope_dash_lower_hex_and_read_back()
    {
        Assert.Equal("\"s0-1\"", Tags.For(1));
        Assert.Equal("\"s0-ff\"", Tags.For(255));
        Assert.Equal("\"s0-ffffffffffffffff\"", Tags.For(ulong.MaxValue));
        foreach (var version in new ulong[] { 1, 9, 10, 4095, 4096, 4097, 1UL << 40, ulong.MaxValue })
        {
            var tag = Tags.For(version);
            Assert.True(Tags.TryVersion(tag.AsSpan(1, tag.Length - 2), out var back));
            Assert.Equal(version, back);
        }
    }

    [Fact]
    public void A_recent_tag_is_the_same_string_and_a_slot_never_answers_for_another_version()
    {
        var tags = new EntityTags("abc");
        var first = tags.For(7);
        Assert.Same(first, tags.For(7));
        Assert.Equal("\"abc-1007\"", tags.For(7 + 4096)); // same slot, another version
        Assert.Equal("\"abc-7\"", tags.For(7));
        Assert.Equal("\"abc-100000007\"", tags.For(0x100000007)); // same slot and same last digit
        Assert.Equal("\"abc-7\"", tags.For(7));
        Assert.Equal("\"abc-2007\"", tags.For(0x2007)); // same slot, same length as the slot's tag
        Assert.Equal("\"abc-1007\"", tags.For(0x1007));
    }

    [Fact]
    public void A_store_without_versions_has_no_tags()
    {
        var none = new EntityTags("");
        Assert.False(none.HasVersions);
        Assert.False(none.TryVersion("-1", out _));
    }
}
