using System.Text;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>
/// Edge cases a hostile review found, each through main, a forwarder and a chain: dot
/// segments are keys, HEAD is GET without the body, methods are case-sensitive, PUT's
/// check order holds at any key length, targets that are not paths and an over-long Via
/// get JSON errors.
/// </summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed class HostileReviewTests(Cluster cluster)
{
    public static TheoryData<string, string, string> DotSegmentKeys()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var target in Cluster.TargetNames)
        {
            var u = UniqueKey("d")[..12];
            // raw path after /kvs/ → the key it names (percent-decoded, never navigated)
            data.Add(target, $"{u}/../..", $"{u}/../..");
            data.Add(target, $"{u}/../../y", $"{u}/../../y");
            data.Add(target, $"../kvs/{u}", $"../kvs/{u}");
            data.Add(target, $"../healthz{u}", $"../healthz{u}");
            data.Add(target, $"{u}%2E%2E", $"{u}..");
        }
        return data;
    }

    [Theory, MemberData(nameof(DotSegmentKeys))]
    public async Task Dot_segments_are_part_of_the_key(string target, string rawKey, string sameKeyEncoded)
    {
        var server = cluster[target];
        (await PutValueAsync(server, "/kvs/" + rawKey, "\"dots\"")).ShouldBe(201, Expected.Created);
        (await GetAsync(server, "/kvs/" + sameKeyEncoded)).ShouldBe(200, """{"result": "found", "value": "dots"}""");
        (await DeleteAsync(server, "/kvs/" + rawKey)).ShouldBe(200, Expected.Deleted);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Single_and_double_dot_are_ordinary_keys(string target)
    {
        var server = cluster[target];
        foreach (var (raw, alias) in new[] { ("..", "%2E%2E"), ("..", ".%2e"), (".", "%2E") })
        {
            await DeleteAsync(server, "/kvs/" + raw); // the cluster is shared: start from nothing
            (await PutValueAsync(server, "/kvs/" + raw, "[1]")).ShouldBe(201, Expected.Created);
            (await GetAsync(server, "/kvs/" + alias)).ShouldBe(200, """{"result": "found", "value": [1]}""");
            (await DeleteAsync(server, "/kvs/" + alias)).ShouldBe(200, Expected.Deleted);
            (await GetAsync(server, "/kvs/" + raw)).ShouldBe(404, Expected.KeyNotFound);
        }
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_path_that_only_normalises_into_kvs_is_not_a_key(string target)
    {
        (await GetAsync(cluster[target], "/x/../kvs/a")).ShouldBe(404, Expected.NotFound);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task HEAD_answers_as_GET_without_the_body(string target)
    {
        var server = cluster[target];
        var key = "/kvs/" + UniqueKey("head");
        await PutValueAsync(server, key, """{"a": [1, 2, 3], "b": "text"}""");
        var get = await GetAsync(server, key);
        var head = await SendAsync(server, "HEAD", key);
        Assert.Equal(200, head.Status);
        Assert.Equal("application/json", head.ContentType);
        Assert.Equal(Encoding.UTF8.GetByteCount(get.Body), head.ContentHeaders.ContentLength);
        Assert.Equal("", head.Body);

        await DeleteAsync(server, key);
        var missing = await SendAsync(server, "HEAD", key);
        Assert.Equal(404, missing.Status);
        Assert.Equal("application/json", missing.ContentType);
        Assert.Equal(Encoding.UTF8.GetByteCount("""{"error":"Key does not exist"}"""), missing.ContentHeaders.ContentLength);
    }

    public static TheoryData<string, string> WrongCaseMethods()
    {
        var data = new TheoryData<string, string>();
        foreach (var target in Cluster.TargetNames)
            foreach (var method in new[] { "get", "Get", "put", "delete", "head", "pOST" })
                data.Add(target, method);
        return data;
    }

    [Theory, MemberData(nameof(WrongCaseMethods))]
    public async Task Methods_are_case_sensitive(string target, string method)
    {
        var server = cluster[target];
        var key = "/kvs/" + UniqueKey("case");
        await PutValueAsync(server, key, "1");
        var body = Encoding.UTF8.GetBytes("""{"value": 2}""");
        var answer = await RawHttp.SendAsync(server, RawHttp.Request(method, key, server, "application/json", body));
        answer.ShouldBe(405, Expected.MethodNotAllowed);
        Assert.Equal("GET, HEAD, PUT, DELETE", answer.Headers["Allow"]);
        (await GetAsync(server, key)).ShouldBe(200, """{"result": "found", "value": 1}"""); // nothing changed

        var noKey = await RawHttp.SendAsync(server, RawHttp.Request(method, "/kvs/", server));
        noKey.ShouldBe(400, Expected.KeyMissing);
    }

    public static TheoryData<string, int> LongKeyLengths()
    {
        var data = new TheoryData<string, int>();
        foreach (var target in Cluster.TargetNames)
            foreach (var length in new[] { 600, 601, 5000 })
                data.Add(target, length);
        return data;
    }

    [Theory, MemberData(nameof(LongKeyLengths))]
    public async Task PUT_checks_encoding_then_body_then_length_at_any_length(string target, int encodedLength)
    {
        var server = cluster[target];
        var malformed = "/kvs/%G1" + new string('a', encodedLength - 3);
        var wellFormed = "/kvs/" + new string('a', encodedLength);
        const string Good = """{"value": 1}""", Bad = """{"other": 1}""";

        (await SendAsync(server, "PUT", malformed, Good)).ShouldBe(400, Expected.KeyMalformed);
        (await SendAsync(server, "PUT", malformed, Bad)).ShouldBe(400, Expected.KeyMalformed);
        (await SendAsync(server, "PUT", wellFormed, Bad)).ShouldBe(400, Expected.NoValue);
        (await SendAsync(server, "PUT", wellFormed, Good)).ShouldBe(400, Expected.KeyTooLong);
        (await GetAsync(server, malformed)).ShouldBe(400, Expected.KeyMalformed);
        (await GetAsync(server, wellFormed)).ShouldBe(404, Expected.KeyNotFound);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Asterisk_target_is_refused_with_json(string target)
    {
        var server = cluster[target];
        var answer = await RawHttp.SendAsync(server, RawHttp.Request("OPTIONS", "*", server));
        answer.ShouldBe(400, Expected.BadTarget);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Via_that_the_next_hop_would_refuse_gets_a_json_431(string target)
    {
        var server = cluster[target];
        var hops = target == "main" ? 0 : target == "chain" ? 2 : 1;
        var key = "/kvs/" + UniqueKey("via");

        // Room for every hop's entry: answered as usual everywhere.
        var fits = await SendWithViaAsync(server, key, 30_000);
        fits.ShouldBe(404, Expected.KeyNotFound);

        // Main still accepts it, but a forwarder cannot add its entry and stay under the limit.
        var full = await SendWithViaAsync(server, key, 32_300);
        if (hops == 0)
            full.ShouldBe(404, Expected.KeyNotFound);
        else
            full.ShouldBe(431, Expected.HeadersTooLarge);
    }

    private static Task<WireAnswer> SendWithViaAsync(Uri server, string target, int viaLength)
    {
        var via = "1.1 client (" + new string('v', viaLength - 13) + ")";
        var request = $"GET {target} HTTP/1.1\r\nHost: {server.Authority}\r\nVia: {via}\r\nConnection: close\r\n\r\n";
        return RawHttp.SendAsync(server, Encoding.ASCII.GetBytes(request));
    }
}
