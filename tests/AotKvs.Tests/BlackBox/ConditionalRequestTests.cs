using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>
/// Versions and conditional requests (docs/api.md section 7), as RFC 9110 §8.8.3 and §13
/// write them, on main, a forwarder and a chain: the ETag on every answer with a value,
/// If-Match and If-None-Match in all their forms, the order of checks, and the lost-update
/// test with its negative control.
/// </summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed partial class ConditionalRequestTests(Cluster cluster)
{
    private const string Failed = """{"error": "Precondition failed"}""";
    private const string Malformed = """{"error": "Precondition header is malformed"}""";
    private const string Missing = """{"error": "Key does not exist"}""";

    [GeneratedRegex("^\"[A-Za-z0-9]+-[1-9a-f][0-9a-f]{0,15}\"$")]
    private static partial Regex TagForm();

    private static string? TagOf(KvsAnswer answer) => answer.Header("ETag");

    private static Task<KvsAnswer> SendAsync(Uri server, string method, string path, string? valueJson, params (string Name, string Value)[] headers) =>
        KvsHttp.SendAsync(server, method, path, valueJson is null ? null : $$"""{"value": {{valueJson}}}""", headers: headers);

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Every_answer_with_a_value_carries_a_strong_tag_that_changes_with_each_write(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey();

        var created = await PutValueAsync(server, path, "1");
        created.ShouldBe(201, """{"result": "created"}""");
        var first = TagOf(created);
        Assert.Matches(TagForm(), first);

        var got = await GetAsync(server, path);
        got.ShouldBe(200, """{"result": "found", "value": 1}""");
        Assert.Equal(first, TagOf(got));
        var head = await KvsHttp.SendAsync(server, "HEAD", path);
        Assert.Equal((200, first), (head.Status, TagOf(head)));

        var replaced = await PutValueAsync(server, path, "1"); // the same value, written again: a new version
        replaced.ShouldBe(200, """{"result": "replaced"}""");
        var second = TagOf(replaced);
        Assert.Matches(TagForm(), second);
        Assert.NotEqual(first, second);
        Assert.Equal(second, TagOf(await GetAsync(server, path)));

        var deleted = await DeleteAsync(server, path);
        deleted.ShouldBe(200, """{"result": "deleted"}""");
        Assert.Null(TagOf(deleted));
        var missing = await GetAsync(server, path);
        missing.ShouldBe(404, Missing);
        Assert.Null(TagOf(missing));

        // Created again with the first value: never the tag it had before.
        var again = await PutTagAsync(server, path, "1");
        Assert.NotEqual(first, again);
        Assert.NotEqual(second, again);
        (await SendAsync(server, "PUT", path, "2", ("If-Match", first!))).ShouldBe(412, Failed);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task If_Match_takes_lists_star_and_whitespace_and_compares_strongly(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey();
        var tag = await PutTagAsync(server, path, "0");

        foreach (var form in new Func<string, string>[] { t => t, t => $"\"nope\", {t}", t => $" \t{t}\t ", t => $",, {t} ,,", t => $"\"a\",{t},\"b\"", _ => "*" })
        {
            var answer = await SendAsync(server, "PUT", path, "1", ("If-Match", form(tag)));
            answer.ShouldBe(200, """{"result": "replaced"}""");
            Assert.NotEqual(tag, TagOf(answer));
            tag = TagOf(answer)!;
        }

        foreach (var field in new[] { "W/" + tag, "\"nope\"", "\"nope\", W/" + tag, ",", string.Equals(tag.ToUpperInvariant(), tag, StringComparison.Ordinal) ? "\"x\"" : tag.ToUpperInvariant() })
        {
            var answer = await SendAsync(server, "PUT", path, "2", ("If-Match", field));
            answer.ShouldBe(412, Failed);
            Assert.Equal(tag, TagOf(answer));
        }
        (await GetAsync(server, path)).ShouldBe(200, """{"result": "found", "value": 1}""");

        // On GET too: a failed If-Match is 412 with the current tag, a held one the plain 200.
        var failed = await SendAsync(server, "GET", path, null, ("If-Match", "\"nope\""));
        failed.ShouldBe(412, Failed);
        Assert.Equal(tag, TagOf(failed));
        (await SendAsync(server, "GET", path, null, ("If-Match", tag))).ShouldBe(200, """{"result": "found", "value": 1}""");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_header_on_several_lines_is_one_list(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey();
        var tag = await PutTagAsync(server, path, "0");

        var held = await RawAsync(server, "PUT", path, """{"value": 1}""", "If-Match: \"a\"", $"If-Match: \"b\", {tag}");
        held.ShouldBe(200, """{"result": "replaced"}""");
        var now = held.Headers["ETag"];
        (await RawAsync(server, "PUT", path, """{"value": 2}""", $"If-Match: {tag}", "If-Match: \"b\"")).ShouldBe(412, Failed);
        (await RawAsync(server, "PUT", path, """{"value": 2}""", "If-Match: *", $"If-Match: {now}")).ShouldBe(400, Malformed);
        var notModified = await RawAsync(server, "GET", path, null, "If-None-Match: \"a\"", $"If-None-Match: W/{now}");
        Assert.Equal((304, now), (notModified.Status, notModified.Headers["ETag"]));
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task If_None_Match_star_creates_only(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey();

        var created = await SendAsync(server, "PUT", path, "\"first\"", ("If-None-Match", "*"));
        created.ShouldBe(201, """{"result": "created"}""");
        var refused = await SendAsync(server, "PUT", path, "\"second\"", ("If-None-Match", "*"));
        refused.ShouldBe(412, Failed);
        Assert.Equal(TagOf(created), TagOf(refused));
        (await SendAsync(server, "PUT", path, "\"second\"", ("If-None-Match", $"\"x\", {TagOf(created)}"))).ShouldBe(412, Failed);
        (await SendAsync(server, "PUT", path, "\"second\"", ("If-None-Match", $"W/{TagOf(created)}"))).ShouldBe(412, Failed); // weak comparison
        (await GetAsync(server, path)).ShouldBe(200, """{"result": "found", "value": "first"}""");
        (await SendAsync(server, "PUT", path, "\"third\"", ("If-None-Match", "\"x\""))).ShouldBe(200, """{"result": "replaced"}""");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_matching_If_None_Match_on_GET_or_HEAD_is_304_with_the_tag_and_no_body(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey();
        var tag = await PutTagAsync(server, path, """{"big": "value"}""");

        foreach (var method in new[] { "GET", "HEAD" })
            foreach (var field in new[] { tag, "W/" + tag, "*", $"\"x\" , {tag}" })
            {
                var answer = await RawAsync(server, method, path, null, $"If-None-Match: {field}");
                Assert.True(answer.Status == 304, $"{method} If-None-Match: {field}: {answer.Status} {answer.Text}");
                Assert.Equal(tag, answer.Headers["ETag"]);
                Assert.Empty(answer.Body);
                Assert.False(answer.Headers.ContainsKey("Content-Length"), "a 304 must not claim a length the 200 would not have");
                Assert.False(answer.Headers.ContainsKey("Content-Type"));
            }

        var changed = await SendAsync(server, "GET", path, null, ("If-None-Match", "\"old\""));
        changed.ShouldBe(200, """{"result": "found", "value": {"big": "value"}}""");
        Assert.Equal(tag, TagOf(changed));
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task If_Match_is_evaluated_before_If_None_Match(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey();
        var tag = await PutTagAsync(server, path, "0");

        // Both fail: the If-Match failure decides (412, not 304).
        (await SendAsync(server, "GET", path, null, ("If-Match", "\"nope\""), ("If-None-Match", tag))).ShouldBe(412, Failed);
        // If-Match holds, If-None-Match matches: 304 on GET, 412 on PUT and DELETE.
        Assert.Equal(304, (await SendAsync(server, "GET", path, null, ("If-Match", tag), ("If-None-Match", tag))).Status);
        (await SendAsync(server, "PUT", path, "1", ("If-Match", tag), ("If-None-Match", "*"))).ShouldBe(412, Failed);
        (await SendAsync(server, "DELETE", path, null, ("If-Match", "*"), ("If-None-Match", tag))).ShouldBe(412, Failed);
        (await SendAsync(server, "PUT", path, "1", ("If-Match", tag), ("If-None-Match", "\"other\""))).ShouldBe(200, """{"result": "replaced"}""");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task An_absent_key_stays_404_on_GET_HEAD_DELETE_and_fails_If_Match_on_PUT(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey();
        var stale = await PutTagAsync(server, path, "0");
        (await DeleteAsync(server, path)).ShouldBe(200, """{"result": "deleted"}""");

        foreach (var (name, value) in new[] { ("If-Match", "*"), ("If-Match", stale), ("If-None-Match", "*"), ("If-None-Match", stale) })
        {
            (await SendAsync(server, "GET", path, null, (name, value))).ShouldBe(404, Missing);
            (await SendAsync(server, "DELETE", path, null, (name, value))).ShouldBe(404, Missing);
            Assert.Equal(404, (await SendAsync(server, "HEAD", path, null, (name, value))).Status);
        }
        foreach (var field in new[] { "*", stale })
        {
            var answer = await SendAsync(server, "PUT", path, "1", ("If-Match", field));
            answer.ShouldBe(412, Failed);
            Assert.Null(TagOf(answer));
        }
        (await GetAsync(server, path)).ShouldBe(404, Missing);
        (await SendAsync(server, "PUT", path, "1", ("If-None-Match", stale))).ShouldBe(201, """{"result": "created"}""");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_conditional_DELETE_removes_only_the_version_named(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey();
        var first = await PutTagAsync(server, path, "0");
        var second = await PutTagAsync(server, path, "1");
        var other = await PutTagAsync(server, "/kvs/" + UniqueKey(), "1");

        foreach (var field in new[] { first, other, "W/" + second })
        {
            var refused = await SendAsync(server, "DELETE", path, null, ("If-Match", field));
            refused.ShouldBe(412, Failed);
            Assert.Equal(second, TagOf(refused));
        }
        (await SendAsync(server, "DELETE", path, null, ("If-None-Match", "*"))).ShouldBe(412, Failed);
        (await SendAsync(server, "DELETE", path, null, ("If-Match", second))).ShouldBe(200, """{"result": "deleted"}""");
        (await GetAsync(server, path)).ShouldBe(404, Missing);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Malformed_headers_are_400_after_the_contracts_own_400s(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey();
        var tag = await PutTagAsync(server, path, "0");

        foreach (var field in new[] { "unquoted", "\"open", "w/\"x\"", "W/ \"x\"", "\"a\" \"b\"", "*, \"a\"", "\"a\";b" })
            foreach (var name in new[] { "If-Match", "If-None-Match" })
            {
                (await RawAsync(server, "PUT", path, """{"value": 9}""", $"{name}: {field}")).ShouldBe(400, Malformed);
                (await RawAsync(server, "GET", path, null, $"{name}: {field}")).ShouldBe(400, Malformed);
                (await RawAsync(server, "DELETE", path, null, $"{name}: {field}")).ShouldBe(400, Malformed);
                (await RawAsync(server, "GET", "/kvs/" + UniqueKey(), null, $"{name}: {field}")).ShouldBe(400, Malformed); // absent key too
            }
        (await GetAsync(server, path)).ShouldBe(200, """{"result": "found", "value": 0}""");
        Assert.Equal(tag, TagOf(await GetAsync(server, path)));

        var bad = ("If-Match", "unquoted");
        (await KvsHttp.SendAsync(server, "PUT", path, """{"x": 1}""", headers: [bad])).ShouldBe(400, """{"error": "PUT request does not specify a value"}""");
        (await SendAsync(server, "PUT", "/kvs/" + new string('k', 51), "1", bad)).ShouldBe(400, """{"error": "Key is too long"}""");
        (await SendAsync(server, "GET", "/kvs/%C3%28", null, bad)).ShouldBe(400, """{"error": "Key is not valid percent-encoded UTF-8"}""");
        (await SendAsync(server, "GET", "/kvs/", null, bad)).ShouldBe(400, """{"error": "Key is missing"}""");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Concurrent_conditional_PUTs_with_one_tag_let_exactly_one_succeed(string target)
    {
        var server = cluster[target];
        for (var round = 0; round < 5; round++)
        {
            var path = "/kvs/" + UniqueKey();
            var tag = await PutTagAsync(server, path, "0");
            var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => SendAsync(server, "PUT", path, i.ToString(), ("If-Match", tag))));
            var winner = Assert.Single(answers, a => a.Status == 200);
            Assert.All(answers.Where(a => a.Status != 200), a =>
            {
                a.ShouldBe(412, Failed);
                Assert.Equal(TagOf(winner), TagOf(a));
            });
        }
    }

    /// <summary>
    /// The proof: 16 clients each add 1 to one counter, reading it and writing it back
    /// with If-Match, retrying on 412. Every increment is kept, and exactly the PUTs answered 200
    /// are the increments.
    /// </summary>
    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task No_update_is_lost_when_every_write_carries_If_Match(string target)
    {
        var servers = new[] { cluster[target] };
        var (final, succeeded) = await IncrementAsync(servers, clients: 16, each: 50, conditional: true);
        Assert.Equal(16 * 50, succeeded);
        Assert.Equal(succeeded, final);
    }

    /// <summary>The same, 200 increments per client, each request sent to a target at random.</summary>
    [Fact]
    public async Task No_update_is_lost_across_every_target_at_random()
    {
        var (final, succeeded) = await IncrementAsync([.. cluster.Targets.Values], clients: 16, each: 200, conditional: true);
        Assert.Equal(3200, succeeded);
        Assert.Equal(succeeded, final);
    }

    /// <summary>The negative control: the same increments without If-Match lose updates.</summary>
    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Without_If_Match_updates_are_lost(string target)
    {
        var (final, succeeded) = await IncrementAsync([cluster[target]], clients: 16, each: 50, conditional: false);
        Assert.Equal(16 * 50, succeeded); // every PUT "succeeded"...
        Assert.True(final < succeeded, $"no update was lost ({final} of {succeeded}): the control shows nothing");
    }

    private static async Task<(long Final, int Succeeded)> IncrementAsync(Uri[] servers, int clients, int each, bool conditional)
    {
        var path = "/kvs/" + UniqueKey("counter");
        await PutTagAsync(servers[0], path, "0");
        var succeeded = 0;
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await Task.WhenAll(Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            var random = new Random(client);
            for (var done = 0; done < each;)
            {
                bound.Token.ThrowIfCancellationRequested();
                var read = await GetAsync(servers[random.Next(servers.Length)], path);
                Assert.Equal(200, read.Status);
                var next = JsonNode.Parse(read.Body)!["value"]!.GetValue<long>() + 1;
                (string, string)[] headers = conditional ? [("If-Match", TagOf(read)!)] : [];
                var write = await SendAsync(servers[random.Next(servers.Length)], "PUT", path, next.ToString(), headers);
                if (write.Status == 200)
                {
                    done++;
                    Interlocked.Increment(ref succeeded);
                }
                else
                    write.ShouldBe(412, Failed); // someone wrote since our GET: read again
            }
        })));
        var final = JsonNode.Parse((await GetAsync(servers[0], path)).Body)!["value"]!.GetValue<long>();
        return (final, succeeded);
    }

    /// <summary>A request with header lines exactly as given (a header may repeat), over a raw socket.</summary>
    private static Task<WireAnswer> RawAsync(Uri server, string method, string path, string? body, params string[] headerLines)
    {
        var head = new StringBuilder($"{method} {path} HTTP/1.1\r\nHost: {server.Authority}\r\nConnection: close\r\n");
        foreach (var line in headerLines)
            head.Append(line).Append("\r\n");
        var bytes = body is null ? [] : Encoding.UTF8.GetBytes(body);
        if (body is not null)
            head.Append($"Content-Type: application/json\r\nContent-Length: {bytes.Length}\r\n");
        head.Append("\r\n");
        return RawHttp.SendAsync(server, [.. Encoding.Latin1.GetBytes(head.ToString()), .. bytes], bodiless: method == "HEAD");
    }
}
