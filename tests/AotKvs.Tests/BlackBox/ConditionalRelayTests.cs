using System.Text;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>
/// Conditional requests on the wire, through every instance: the precondition lines reach
/// main as the client wrote them (lists, several lines, weak tags), and main's ETag, 304
/// and 412 come back exactly, so the same exchange gives the same answers on main, a
/// forwarder and a chain.
/// </summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed class ConditionalRelayTests(Cluster cluster)
{
    private const string Failed = """{"error": "Precondition failed"}""";

    private static byte[] Request(Uri server, string method, string path, string conditions, string? json = null)
    {
        var body = json is null ? "" : $$"""{"value": {{json}}}""";
        var head = $"{method} {path} HTTP/1.1\r\nHost: {server.Authority}\r\nConnection: close\r\n{conditions}" +
                   (json is null ? "" : $"Content-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n");
        return Encoding.UTF8.GetBytes(head + "\r\n" + body);
    }

    private static async Task<WireAnswer> SendAsync(Uri server, string method, string path, string conditions, string? json = null) =>
        await RawHttp.SendAsync(server, Request(server, method, path, conditions, json), bodiless: method == "HEAD");

    private static string ETagOf(WireAnswer answer)
    {
        Assert.True(answer.Headers.TryGetValue("ETag", out var tag), $"no ETag on a {answer.Status}");
        return tag!;
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_compare_and_set_round_trip_answers_alike_through_every_instance(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey();

        var created = await SendAsync(server, "PUT", path, "If-None-Match: *\r\n", "1");
        created.ShouldBe(201, Expected.Created);
        var first = ETagOf(created);
        Assert.Matches("^\"[0-9A-Za-z]+-[0-9a-f]{1,16}\"$", first);

        var again = await SendAsync(server, "PUT", path, "If-None-Match: *\r\n", "2");
        again.ShouldBe(412, Failed);
        Assert.Equal(first, ETagOf(again));

        var notModified = await SendAsync(server, "GET", path, $"If-None-Match: \"other\", {first}\r\n");
        Assert.Equal(304, notModified.Status);
        Assert.Empty(notModified.Body);
        Assert.Equal(first, ETagOf(notModified));

        // A weak tag never matches in If-Match, whatever it names; a list on two lines is one list.
        var weak = await SendAsync(server, "PUT", path, $"If-Match: \"x\", W/{first}\r\n", "3");
        weak.ShouldBe(412, Failed);
        Assert.Equal(first, ETagOf(weak));
        var replaced = await SendAsync(server, "PUT", path, $"If-Match: \"x\"\r\nIf-Match:   {first}  \r\n", "4");
        replaced.ShouldBe(200, Expected.Replaced);
        var second = ETagOf(replaced);
        Assert.NotEqual(first, second);

        var stale = await SendAsync(server, "DELETE", path, $"If-Match: {first}\r\n");
        stale.ShouldBe(412, Failed);
        Assert.Equal(second, ETagOf(stale));
        (await SendAsync(server, "DELETE", path, $"If-Match: {second}\r\n")).ShouldBe(200, Expected.Deleted);
        var gone = await SendAsync(server, "DELETE", path, $"If-Match: {second}\r\n");
        gone.ShouldBe(404, Expected.KeyNotFound);
        Assert.False(gone.Headers.ContainsKey("ETag"));
    }

    /// <summary>One value, one tag: whichever instance wrote it, every instance reads it back with the tag its PUT answered.</summary>
    [Fact]
    public async Task Every_instance_gives_the_same_tag_for_the_same_value()
    {
        var path = "/kvs/" + UniqueKey();
        var written = ETagOf(await SendAsync(cluster[Cluster.TargetNames[^1]], "PUT", path, "", "7"));
        foreach (var name in Cluster.TargetNames)
        {
            var read = await SendAsync(cluster[name], "GET", path, "");
            read.ShouldBe(200, """{"result": "found", "value": 7}""");
            Assert.Equal(written, ETagOf(read));
            var head = await SendAsync(cluster[name], "HEAD", path, $"If-None-Match: {written}\r\n");
            Assert.Equal((304, written), (head.Status, ETagOf(head)));
        }
    }
}
