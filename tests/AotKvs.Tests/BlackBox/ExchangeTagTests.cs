using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>
/// The tag a forwarder puts on each request to main (Kvs-Tag, 16 hex digits) comes back on
/// the answer, from main, a forwarder and a chain alike, on every kind of answer; anything
/// else is not echoed, and a request without one is answered exactly as before.
/// </summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed class ExchangeTagTests(Cluster cluster)
{
    private const string Tag = "0123456789abcdef";

    private static string? EchoedTag(KvsAnswer answer) =>
        answer.Headers.TryGetValues("Kvs-Tag", out var values) ? string.Join(",", values) : null;

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_well_formed_tag_is_echoed_on_every_answer(string target)
    {
        var server = cluster[target];
        var key = "/kvs/" + UniqueKey("tag");
        (string, string)[] tagged = [("Kvs-Tag", Tag)];

        var created = await SendAsync(server, "PUT", key, """{"value": 1}""", headers: tagged);
        var found = await SendAsync(server, "GET", key, headers: tagged);
        var missing = await SendAsync(server, "GET", "/kvs/" + UniqueKey("absent"), headers: tagged);
        var refused = await SendAsync(server, "PUT", key, """{"nothing": 1}""", headers: tagged);
        var unknown = await SendAsync(server, "GET", "/elsewhere", headers: tagged);

        created.ShouldBe(201, Expected.Created);
        found.ShouldBe(200, """{"result": "found", "value": 1}""");
        missing.ShouldBe(404, Expected.KeyNotFound);
        refused.ShouldBe(400, Expected.NoValue);
        unknown.ShouldBe(404, Expected.NotFound);
        Assert.All(new[] { created, found, missing, refused, unknown }, answer => Assert.Equal(Tag, EchoedTag(answer)));
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Anything_but_one_tag_of_16_hex_digits_is_not_echoed(string target)
    {
        var server = cluster[target];
        foreach (var value in new[] { "0123456789abcde", "0123456789abcdefa", "0123456789abcdeg", "+123456789abcdef", $"{Tag}, {Tag}" })
        {
            var answer = await SendAsync(server, "GET", "/kvs/" + UniqueKey("tag"), headers: [("Kvs-Tag", value)]);
            answer.ShouldBe(404, Expected.KeyNotFound);
            Assert.Null(EchoedTag(answer));
        }
        var plain = await GetAsync(server, "/kvs/" + UniqueKey("tag"));
        Assert.Null(EchoedTag(plain));
    }
}
