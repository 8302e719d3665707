using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>SPEC "Other paths and methods", through every instance.</summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed class PathAndMethodTests(Cluster cluster)
{
    public static TheoryData<string, string, string> MissingKeyRequests()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var target in Cluster.TargetNames)
            foreach (var path in new[] { "/kvs", "/kvs/", "/kvs?x=1", "/kvs/?x=1" })
                foreach (var method in new[] { "GET", "PUT", "DELETE", "POST", "PATCH" })
                    data.Add(target, method, path);
        return data;
    }

    [Theory, MemberData(nameof(MissingKeyRequests))]
    public async Task No_key_is_key_is_missing_for_every_method(string target, string method, string path)
    {
        var body = method is "GET" or "DELETE" ? null : """{"value": 1}""";
        (await SendAsync(cluster[target], method, path, body)).ShouldBe(400, Expected.KeyMissing);
    }

    public static TheoryData<string, string> OtherMethods()
    {
        var data = new TheoryData<string, string>();
        foreach (var target in Cluster.TargetNames)
            foreach (var method in new[] { "POST", "PATCH", "OPTIONS", "TRACE", "FOO" })
                data.Add(target, method);
        return data;
    }

    [Theory, MemberData(nameof(OtherMethods))]
    public async Task Other_method_on_a_key_is_405_with_allow(string target, string method)
    {
        var answer = await SendAsync(cluster[target], method, "/kvs/" + UniqueKey(), method == "TRACE" ? null : """{"value": 1}""");
        answer.ShouldBe(405, Expected.MethodNotAllowed);
        Assert.Equal(["DELETE", "GET", "HEAD", "PUT"], answer.ContentHeaders.Allow.Order());
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Unknown_paths_are_404_json(string target)
    {
        foreach (var path in new[] { "/", "/kv", "/kvsx", "/kvsx/a", "/KVS/a", "/other/kvs/a", "/favicon.ico" })
        {
            var answer = await GetAsync(cluster[target], path);
            answer.ShouldBeJsonError(404);
        }
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Body_over_the_limit_is_413_json(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey();
        // Announce 17 MiB and send none of it: the answer must come from the length alone.
        var head = $"PUT {path} HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: application/json\r\nContent-Length: {17 * 1024 * 1024}\r\n\r\n";
        var answer = await RawHttp.SendAsync(server, System.Text.Encoding.ASCII.GetBytes(head));
        answer.ShouldBe(413, Expected.BodyTooLarge);
        (await GetAsync(server, path)).ShouldBe(404, Expected.KeyNotFound);
    }
}
