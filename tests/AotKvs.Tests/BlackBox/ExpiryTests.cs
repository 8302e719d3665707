using System.Diagnostics;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>
/// Keys with a deadline (docs/api.md section 8): a PUT with Kvs-Ttl: N stores a value that is
/// gone N seconds later on every role, a PUT renews or removes the deadline, and a waiter on
/// the key wakes when it expires. Deadlines are checked with a margin for a loaded machine
/// (and for etcd, whose leases end on its own clock): present right after the PUT, gone
/// within a bound after the deadline.
/// </summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed class ExpiryTests(Cluster cluster)
{
    private const string Missing = """{"error": "Key does not exist"}""";
    private const string BadTtl = """{"error": "Kvs-Ttl is not a whole number of seconds from 1 to 315360000"}""";
    private static readonly TimeSpan GoneWithin = TimeSpan.FromSeconds(3);

    private static Task<KvsAnswer> PutAsync(Uri server, string path, string valueJson, params (string Name, string Value)[] headers) =>
        SendAsync(server, "PUT", path, $$"""{"value": {{valueJson}}}""", headers: headers);

    /// <summary>Polls GET until it is 404; the time it took after <paramref name="since"/>.</summary>
    private static async Task<TimeSpan> GoneAfterAsync(Uri server, string path, Stopwatch since, TimeSpan deadline)
    {
        while (since.Elapsed < deadline + GoneWithin)
        {
            var answer = await GetAsync(server, path);
            if (answer.Status == 404)
            {
                answer.ShouldBe(404, Missing);
                return since.Elapsed;
            }
            Assert.Equal(200, answer.Status);
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"{path} still there {since.Elapsed} after a PUT with a {deadline.TotalSeconds} s lifetime");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_value_with_a_lifetime_is_there_until_it_ends_then_gone(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey("ttl");
        var clock = Stopwatch.StartNew();
        (await PutAsync(server, path, "1", ("Kvs-Ttl", "2"))).ShouldBe(201, """{"result": "created"}""");
        (await GetAsync(server, path)).ShouldBe(200, """{"result": "found", "value": 1}""");

        var gone = await GoneAfterAsync(server, path, clock, TimeSpan.FromSeconds(2));
        Assert.True(gone >= TimeSpan.FromSeconds(1.9), $"gone after {gone}, before its deadline");
        (await DeleteAsync(server, path)).ShouldBe(404, Missing);
        // Created again, as after a delete.
        (await PutValueAsync(server, path, "2")).ShouldBe(201, """{"result": "created"}""");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_put_with_a_lifetime_moves_the_deadline_and_one_without_removes_it(string target)
    {
        var server = cluster[target];
        var renewed = "/kvs/" + UniqueKey("ttl");
        var kept = "/kvs/" + UniqueKey("ttl");
        (await PutAsync(server, renewed, "1", ("Kvs-Ttl", "2"))).ShouldBe(201, """{"result": "created"}""");
        (await PutAsync(server, kept, "1", ("Kvs-Ttl", "2"))).ShouldBe(201, """{"result": "created"}""");
        var tag = (await GetAsync(server, renewed)).Header("ETag")!;

        await Task.Delay(1000);
        var clock = Stopwatch.StartNew();
        (await PutAsync(server, renewed, "2", ("Kvs-Ttl", "4"), ("If-Match", tag))).ShouldBe(200, """{"result": "replaced"}""");
        (await PutValueAsync(server, kept, "2")).ShouldBe(200, """{"result": "replaced"}""");

        await Task.Delay(2500); // past both first deadlines
        (await GetAsync(server, renewed)).ShouldBe(200, """{"result": "found", "value": 2}""");
        (await GetAsync(server, kept)).ShouldBe(200, """{"result": "found", "value": 2}""");
        await GoneAfterAsync(server, renewed, clock, TimeSpan.FromSeconds(4));
        (await GetAsync(server, kept)).ShouldBe(200, """{"result": "found", "value": 2}""");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_waiter_on_a_value_wakes_with_404_when_it_expires(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey("ttl");
        var put = await PutAsync(server, path, "1", ("Kvs-Ttl", "1"));
        var clock = Stopwatch.StartNew();
        var waiting = SendAsync(server, "GET", path, headers: [("If-None-Match", put.Header("ETag")!), ("Prefer", "wait=10")]);

        var answer = await waiting.WaitAsync(TimeSpan.FromSeconds(1) + GoneWithin);
        answer.ShouldBe(404, Missing);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1) + GoneWithin, $"woke after {clock.Elapsed}");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_create_only_put_takes_an_expired_key(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey("lock");
        (await PutAsync(server, path, "\"a\"", ("Kvs-Ttl", "1"), ("If-None-Match", "*"))).ShouldBe(201, """{"result": "created"}""");
        (await PutAsync(server, path, "\"b\"", ("Kvs-Ttl", "1"), ("If-None-Match", "*"))).ShouldBe(412, """{"error": "Precondition failed"}""");
        await GoneAfterAsync(server, path, Stopwatch.StartNew(), TimeSpan.FromSeconds(1));
        (await PutAsync(server, path, "\"b\"", ("Kvs-Ttl", "5"), ("If-None-Match", "*"))).ShouldBe(201, """{"result": "created"}""");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_lifetime_that_is_not_whole_seconds_in_range_is_400_and_stores_nothing(string target)
    {
        var server = cluster[target];
        foreach (var ttl in (string[])["0", "-1", "1.5", "abc", "01", "315360001", "99999999999", "1 2"])
        {
            var path = "/kvs/" + UniqueKey("ttl");
            (await PutAsync(server, path, "1", ("Kvs-Ttl", ttl))).ShouldBe(400, BadTtl);
            (await GetAsync(server, path)).ShouldBe(404, Missing);
        }
        var twice = "/kvs/" + UniqueKey("ttl");
        (await PutAsync(server, twice, "1", ("Kvs-Ttl", "5"), ("Kvs-Ttl", "6"))).ShouldBe(400, BadTtl);
        // The longest lifetime is accepted; the key's own 400s come first.
        (await PutAsync(server, "/kvs/" + UniqueKey("ttl"), "1", ("Kvs-Ttl", "315360000"))).ShouldBe(201, """{"result": "created"}""");
        (await PutAsync(server, "/kvs/" + new string('k', 51), "1", ("Kvs-Ttl", "x"))).ShouldBe(400, """{"error": "Key is too long"}""");
        (await SendAsync(server, "PUT", "/kvs/" + UniqueKey("ttl"), "{}", headers: [("Kvs-Ttl", "x")])).ShouldBe(400, """{"error": "PUT request does not specify a value"}""");
    }
}
