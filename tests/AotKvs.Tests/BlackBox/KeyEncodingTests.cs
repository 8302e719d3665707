using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>Keys are the rest of the path after /kvs/, percent-decoded as UTF-8.</summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed class KeyEncodingTests(Cluster cluster)
{
    public static TheoryData<string, string, string> EncodedKeys()
    {
        // (target, encoded form, another encoding of the same key)
        var data = new TheoryData<string, string, string>();
        foreach (var target in Cluster.TargetNames)
        {
            var t = target;
            data.Add(t, "a%20b", "a%20b");
            data.Add(t, "what%3F", "what%3f");
            data.Add(t, "semi%3Bcolon", "semi;colon");
            data.Add(t, "plus%2Bsign", "plus+sign");
            data.Add(t, "slash%2Finside", "slash%2finside");
            data.Add(t, "caf%C3%A9", "caf%c3%a9");
            data.Add(t, "%E4%B8%AD%E6%96%87", "%e4%b8%ad%e6%96%87");
            data.Add(t, "tilde~", "tilde%7E");
            data.Add(t, "percent%25", "percent%25");
        }
        return data;
    }

    [Theory, MemberData(nameof(EncodedKeys))]
    public async Task Encoded_key_names_one_key_however_it_is_spelled(string target, string encoded, string sameKey)
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var server = cluster[target];
        (await PutValueAsync(server, $"/kvs/{encoded}{suffix}", "\"v\"")).ShouldBe(201, Expected.Created);
        (await GetAsync(server, $"/kvs/{sameKey}{suffix}")).ShouldBe(200, """{"result": "found", "value": "v"}""");
        (await DeleteAsync(server, $"/kvs/{sameKey}{suffix}")).ShouldBe(200, Expected.Deleted);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Space_plus_and_slash_spellings_are_distinct_keys(string target)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var server = cluster[target];
        await PutValueAsync(server, $"/kvs/{id}/x", "\"slash\"");
        await PutValueAsync(server, $"/kvs/{id}%20x", "\"space\"");
        await PutValueAsync(server, $"/kvs/{id}+x", "\"plus\"");
        await PutValueAsync(server, $"/kvs/{id}x", "\"none\"");
        // "%2F" decodes to the same "/" a real slash is: one key, as the SPEC's decoding says.
        (await GetAsync(server, $"/kvs/{id}%2Fx")).ShouldBe(200, """{"result": "found", "value": "slash"}""");
        (await GetAsync(server, $"/kvs/{id}%20x")).ShouldBe(200, """{"result": "found", "value": "space"}""");
        (await GetAsync(server, $"/kvs/{id}%2Bx")).ShouldBe(200, """{"result": "found", "value": "plus"}""");
        (await GetAsync(server, $"/kvs/{id}x")).ShouldBe(200, """{"result": "found", "value": "none"}""");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Query_string_is_not_part_of_the_key(string target)
    {
        var key = UniqueKey();
        var server = cluster[target];
        (await PutValueAsync(server, $"/kvs/{key}?x=1", "7")).ShouldBe(201, Expected.Created);
        (await GetAsync(server, $"/kvs/{key}")).ShouldBe(200, """{"result": "found", "value": 7}""");
    }

    public static TheoryData<string, string> MalformedKeys()
    {
        var data = new TheoryData<string, string>();
        foreach (var target in Cluster.TargetNames)
            foreach (var key in new[] { "bad%", "bad%4", "bad%G1", "bad%C3%28", "bad%C0%AF", "bad%ED%A0%80", "bad%FF" })
                data.Add(target, key);
        return data;
    }

    [Theory, MemberData(nameof(MalformedKeys))]
    public async Task Malformed_percent_encoding_is_a_400_json_error(string target, string key)
    {
        var server = cluster[target];
        foreach (var method in new[] { "GET", "DELETE" })
            (await RawHttp.SendAsync(server, RawHttp.Request(method, "/kvs/" + key, server)))
                .ShouldBe(400, Expected.KeyMalformed);
        (await RawHttp.SendAsync(server, RawHttp.Request("PUT", "/kvs/" + key, server, "application/json", """{"value": 1}"""u8.ToArray())))
            .ShouldBe(400, Expected.KeyMalformed);
    }
}
