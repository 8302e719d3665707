using System.Diagnostics;
using System.Text;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>
/// Waiting reads (docs/api.md section 8): a GET with If-None-Match and Prefer: wait=N is
/// answered as soon as the key changes, or 304 after the full wait; the tag of "absent" lets a
/// client wait for a creation. On main, a forwarder and a chain alike.
/// </summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed class WatchTests(Cluster cluster)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static Task<KvsAnswer> WaitAsync(Uri server, string path, string tag, int seconds, string method = "GET", CancellationToken cancel = default) =>
        SendAsync(server, method, path, headers: [("If-None-Match", tag), ("Prefer", $"wait={seconds}")], cancel: cancel);

    /// <summary>Gives a waiting request time to reach main and start waiting before the test changes the key.</summary>
    private static async Task AssertStillWaitingAsync(Task<KvsAnswer> waiting)
    {
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted, waiting.IsCompleted ? $"answered at once: {waiting.Result.Status} {waiting.Result.Body}" : "");
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_waiting_get_is_answered_with_the_new_value_as_soon_as_it_is_written(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey("watch");
        var tag = await PutTagAsync(server, path, "1");

        var waiting = WaitAsync(server, path, tag, 10);
        await AssertStillWaitingAsync(waiting);
        var newTag = await PutTagAsync(server, path, "2");

        var answer = await waiting.WaitAsync(Bound);
        answer.ShouldBe(200, """{"result": "found", "value": 2}""");
        Assert.Equal(newTag, answer.Header("ETag"));
        Assert.Equal("wait=10", answer.Header("Preference-Applied"));
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_waiting_get_is_answered_404_when_the_key_is_deleted(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey("watch");
        var tag = await PutTagAsync(server, path, "1");

        var waiting = WaitAsync(server, path, tag, 10);
        await AssertStillWaitingAsync(waiting);
        (await DeleteAsync(server, path)).ShouldBe(200, """{"result": "deleted"}""");

        var answer = await waiting.WaitAsync(Bound);
        answer.ShouldBe(404, """{"error": "Key does not exist"}""");
        Assert.Equal("wait=10", answer.Header("Preference-Applied"));
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Nothing_changes_for_the_whole_wait_then_304_with_the_same_tag(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey("watch");
        var tag = await PutTagAsync(server, path, "1");

        var clock = Stopwatch.StartNew();
        var answer = await WaitAsync(server, path, tag, 1);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(950), $"answered after {clock.Elapsed}");
        Assert.Equal(304, answer.Status);
        Assert.Equal("", answer.Body);
        Assert.Equal(tag, answer.Header("ETag"));
        Assert.Equal("wait=1", answer.Header("Preference-Applied"));
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_client_waits_for_a_missing_key_with_the_tag_of_absent(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey("watch");

        // The 404 to a read that asks to wait names "absent" with the store's tag of it.
        var missing = await SendAsync(server, "GET", path, headers: [("Prefer", "wait=5")]);
        missing.ShouldBe(404, """{"error": "Key does not exist"}""");
        var absent = missing.Header("ETag");
        Assert.Matches("^\"[A-Za-z0-9]+-0\"$", absent);
        Assert.Null(missing.Header("Preference-Applied")); // it had nothing to wait on

        var waiting = WaitAsync(server, path, absent!, 10);
        await AssertStillWaitingAsync(waiting);
        var created = await PutTagAsync(server, path, "\"here\"");
        Assert.StartsWith(absent![..^2], created); // the same scope
        var answer = await waiting.WaitAsync(Bound);
        answer.ShouldBe(200, """{"result": "found", "value": "here"}""");
        Assert.Equal(created, answer.Header("ETag"));

        // Absent for the whole wait: 304 with the tag of absent.
        var other = "/kvs/" + UniqueKey("watch");
        var unchanged = await WaitAsync(server, other, absent, 1);
        Assert.Equal((304, absent), (unchanged.Status, unchanged.Header("ETag")));
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task Without_Prefer_wait_every_answer_is_the_one_of_section_7_at_once(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey("watch");
        var tag = await PutTagAsync(server, path, "1");

        var notModified = await SendAsync(server, "GET", path, headers: [("If-None-Match", tag)]);
        Assert.Equal((304, tag, null), (notModified.Status, notModified.Header("ETag"), notModified.Header("Preference-Applied")));
        var absentTag = tag[..(tag.LastIndexOf('-') + 1)] + "0\"";
        var missing = await SendAsync(server, "GET", "/kvs/" + UniqueKey("watch"), headers: [("If-None-Match", absentTag)]);
        missing.ShouldBe(404, """{"error": "Key does not exist"}""");
        Assert.Null(missing.Header("ETag"));
        // A wait the answer does not need (the tag is not current) is not applied.
        var fresh = await WaitAsync(server, path, "\"other-1\"", 10);
        fresh.ShouldBe(200, """{"result": "found", "value": 1}""");
        Assert.Null(fresh.Header("Preference-Applied"));
        // A wait that is not delta-seconds is ignored (RFC 7240: a preference never makes an error).
        var ignored = await SendAsync(server, "GET", path, headers: [("If-None-Match", tag), ("Prefer", "wait=soon")]);
        Assert.Equal((304, null), (ignored.Status, ignored.Header("Preference-Applied")));
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_waiting_head_is_answered_like_a_get_without_the_body(string target)
    {
        var server = cluster[target];
        var path = "/kvs/" + UniqueKey("watch");
        var tag = await PutTagAsync(server, path, "[1]");

        var waiting = WaitAsync(server, path, tag, 10, method: "HEAD");
        await AssertStillWaitingAsync(waiting);
        var newTag = await PutTagAsync(server, path, "[1, 2]");
        var answer = await waiting.WaitAsync(Bound);
        Assert.Equal((200, "", newTag), (answer.Status, answer.Body, answer.Header("ETag")));
        Assert.Equal(Encoding.UTF8.GetByteCount("""{"result":"found","value":[1, 2]}"""), answer.ContentHeaders.ContentLength);
    }

    [Theory, MemberData(nameof(Cluster.Names), MemberType = typeof(Cluster))]
    public async Task A_client_that_leaves_releases_its_wait_on_main(string target)
    {
        var server = cluster[target];
        var main = cluster["main"];
        var path = "/kvs/" + UniqueKey("watch");
        var tag = await PutTagAsync(server, path, "1");
        var before = await WaitingOnMainAsync(main);

        using var leave = new CancellationTokenSource();
        var waiting = WaitAsync(server, path, tag, 60, cancel: leave.Token);
        Assert.True(await PollAsync(async () => await WaitingOnMainAsync(main) == before + 1), "main never counted the wait");
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.True(await PollAsync(async () => await WaitingOnMainAsync(main) == before), "main still holds the wait of a client that left");
    }

    private static async Task<bool> PollAsync(Func<Task<bool>> condition)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Bound)
        {
            if (await condition())
                return true;
            await Task.Delay(50);
        }
        return false;
    }

    /// <summary>Main's kvs_waiting gauge.</summary>
    private static async Task<int> WaitingOnMainAsync(Uri main)
    {
        var metrics = await GetAsync(main, "/metrics");
        var line = metrics.Body.Split('\n').Single(l => l.StartsWith("kvs_waiting", StringComparison.Ordinal) && !l.StartsWith("kvs_waits", StringComparison.Ordinal));
        return int.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
