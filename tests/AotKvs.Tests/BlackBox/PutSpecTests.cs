using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>SPEC table "PUT /kvs/&lt;key&gt;", row by row, through every instance.</summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed class PutSpecTests(Cluster cluster)
{
    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task New_key_is_created_201(string target)
    {
        var answer = await PutValueAsync(cluster[target], "/kvs/" + UniqueKey(), "\"v\"");
        answer.ShouldBe(201, Expected.Created);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Existing_key_is_replaced_200(string target)
    {
        var path = "/kvs/" + UniqueKey();
        await PutValueAsync(cluster[target], path, "1");
        var answer = await PutValueAsync(cluster[target], path, "2");
        answer.ShouldBe(200, Expected.Replaced);
        (await GetAsync(cluster[target], path)).ShouldBe(200, """{"result": "found", "value": 2}""");
    }

    public static TheoryData<string, string?> BodiesWithoutValue => new()
    {
        { "no body", null },
        { "empty body", "" },
        { "invalid JSON", "{\"value\": " },
        { "not JSON", "value=1" },
        { "array", "[{\"value\": 1}]" },
        { "string", "\"value\"" },
        { "number", "1" },
        { "null", "null" },
        { "object without value", "{\"val\": 1}" },
        { "value in a nested object", "{\"x\": {\"value\": 1}}" },
        { "key differs in case", "{\"Value\": 1}" },
        { "trailing garbage", "{\"value\": 1} x" },
        { "two documents", "{\"value\": 1}{\"value\": 2}" },
        { "single quotes", "{'value': 1}" },
        { "trailing comma", "{\"value\": 1,}" },
        { "comment", "{\"value\": 1 /* c */}" },
    };

    [Theory, MemberData(nameof(WithEveryTarget), nameof(BodiesWithoutValue))]
    public async Task Body_without_a_value_is_400(string target, string why, string? body)
    {
        var path = "/kvs/" + UniqueKey();
        var answer = await SendAsync(cluster[target], "PUT", path, body);
        Assert.True(answer.Status == 400, why);
        answer.ShouldBe(400, Expected.NoValue);
        (await GetAsync(cluster[target], path)).ShouldBe(404, Expected.KeyNotFound);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Key_of_51_characters_is_too_long(string target)
    {
        var answer = await PutValueAsync(cluster[target], "/kvs/" + new string('k', 51), "1");
        answer.ShouldBe(400, Expected.KeyTooLong);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Key_of_exactly_50_characters_is_allowed(string target)
    {
        var key = UniqueKey("fifty").PadRight(50, 'x');
        (await PutValueAsync(cluster[target], "/kvs/" + key, "1")).ShouldBe(201, Expected.Created);
        (await GetAsync(cluster[target], "/kvs/" + key)).ShouldBe(200, """{"result": "found", "value": 1}""");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Key_length_counts_code_points_not_bytes_or_chars(string target)
    {
        // Each emoji is one code point, two UTF-16 chars and four UTF-8 bytes.
        var fifty = string.Concat(Enumerable.Repeat("😀", 18)) + Guid.NewGuid().ToString("N");
        (await PutValueAsync(cluster[target], "/kvs/" + Uri.EscapeDataString(fifty), "1")).ShouldBe(201, Expected.Created);
        (await GetAsync(cluster[target], "/kvs/" + Uri.EscapeDataString(fifty))).ShouldBe(200, """{"result": "found", "value": 1}""");
        (await PutValueAsync(cluster[target], "/kvs/" + Uri.EscapeDataString(fifty + "😀"), "1"))
            .ShouldBe(400, Expected.KeyTooLong);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Key_of_50_emoji_is_allowed_51_is_too_long(string target)
    {
        var fiftyEmoji = "/kvs/" + Uri.EscapeDataString(string.Concat(Enumerable.Repeat("😀", 50)));
        var value = Random.Shared.Next().ToString();
        Assert.Contains((await PutValueAsync(cluster[target], fiftyEmoji, value)).Status, new[] { 200, 201 });
        (await GetAsync(cluster[target], fiftyEmoji)).ShouldBe(200, $$"""{"result": "found", "value": {{value}}}""");

        var fiftyOneEmoji = "/kvs/" + Uri.EscapeDataString(string.Concat(Enumerable.Repeat("😀", 51)));
        (await PutValueAsync(cluster[target], fiftyOneEmoji, "1")).ShouldBe(400, Expected.KeyTooLong);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Enormous_key_is_too_long_not_a_server_error(string target)
    {
        var answer = await PutValueAsync(cluster[target], "/kvs/" + new string('k', 20_000), "1");
        answer.ShouldBe(400, Expected.KeyTooLong);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Json_body_is_accepted_whatever_its_content_type(string target)
    {
        var path = "/kvs/" + UniqueKey();
        var answer = await SendAsync(cluster[target], "PUT", path, """{"value": "plain"}""", "text/plain");
        answer.ShouldBe(201, Expected.Created);
        (await GetAsync(cluster[target], path)).ShouldBe(200, """{"result": "found", "value": "plain"}""");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Other_members_beside_value_are_ignored(string target)
    {
        var path = "/kvs/" + UniqueKey();
        (await SendAsync(cluster[target], "PUT", path, """{"a": [1, {"b": 2}], "value": {"v": true}, "z": null}"""))
            .ShouldBe(201, Expected.Created);
        (await GetAsync(cluster[target], path)).ShouldBe(200, """{"result": "found", "value": {"v": true}}""");
    }

    public static TheoryData<string, string, string?> WithEveryTarget(string member)
    {
        var rows = (TheoryData<string, string?>)typeof(PutSpecTests).GetProperty(member)!.GetValue(null)!;
        var data = new TheoryData<string, string, string?>();
        foreach (var target in Cluster.TargetNames)
            foreach (var row in rows)
                data.Add(target, (string)row[0], (string?)row[1]);
        return data;
    }
}
