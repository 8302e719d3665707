using System.Text.Json.Nodes;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>A value read back is the same JSON value that was written, whatever it is.</summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed class ValueRoundTripTests(Cluster cluster)
{
    public static readonly string[] Values =
    [
        "\"plain\"",
        "\"\"",
        "\"quote \\\" backslash \\\\ slash \\/ controls \\b\\f\\n\\r\\t \\u0000 \\u001f\"",
        "\"non-ASCII: é ß 中文 😀 \\ud83d\\ude00\"",
        "12345678901234567890",
        "-98765432109876543210987654321",
        "0",
        "-0",
        "3.141592653589793238462643383279",
        "1e400",
        "6.02E+23",
        "true",
        "false",
        "null",
        "{}",
        "[]",
        "{\"nested\": {\"array\": [1, [2, [3, {\"deep\": null}]]], \"s\": \"x\"}}",
        "[1, \"two\", 3.0, false, null, {}, []]",
        "  {\"spaced\" :\n [ 1 ,2 ]\t}  ",
    ];

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var target in Cluster.TargetNames)
            for (var i = 0; i < Values.Length; i++)
                data.Add(target, i);
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public async Task Value_reads_back_deep_equal(string target, int valueIndex)
    {
        var value = Values[valueIndex];
        var path = "/kvs/" + UniqueKey();
        (await PutValueAsync(cluster[target], path, value)).ShouldBe(201, Expected.Created);

        var answer = await GetAsync(cluster[target], path);
        answer.ShouldBe(200, $$"""{"result": "found", "value": {{value}}}""");
        // Numbers keep every digit: compare their text, not a rounded double.
        if (JsonNode.Parse(value) is JsonValue number && number.GetValueKind() == System.Text.Json.JsonValueKind.Number)
            Assert.Equal(value.Trim(), answer.Json!["value"]!.ToJsonString());
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Large_value_round_trips(string target)
    {
        var big = "\"" + new string('x', 1_000_000) + "\"";
        var path = "/kvs/" + UniqueKey();
        (await PutValueAsync(cluster[target], path, big)).ShouldBe(201, Expected.Created);
        var answer = await GetAsync(cluster[target], path);
        Assert.Equal(1_000_000, answer.Json!["value"]!.GetValue<string>().Length);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Value_with_invalid_UTF8_is_refused(string target)
    {
        var path = "/kvs/" + UniqueKey();
        var server = cluster[target];
        var raw = RawHttp.Request("PUT", path, server, "application/json", [.. "{\"value\": \""u8, 0xC3, 0x28, .. "\"}"u8]);
        var answer = await RawHttp.SendAsync(server, raw);
        Assert.Equal(400, answer.Status);
        (await GetAsync(server, path)).ShouldBe(404, Expected.KeyNotFound);
    }
}
