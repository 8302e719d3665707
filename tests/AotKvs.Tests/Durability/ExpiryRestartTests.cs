using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Durability;

/// <summary>
/// Kvs-Ttl with a data dir, across SIGKILL and restart: a value whose deadline passes while
/// main is down is absent after the restart, one whose deadline is still to come is there
/// with its tag until then, and the expired key created again gets a tag it never had.
/// </summary>
[Trait("Category", "Durability")]
public sealed class ExpiryRestartTests
{
    private static Task<KvsAnswer> Put(ServerProcess main, string key, string value, params (string, string)[] headers) =>
        SendAsync(main.BaseUri, "PUT", "/kvs/" + key, $$"""{"value": {{value}}}""", headers: headers);

    private static string? Tag(KvsAnswer answer) => answer.Headers.ETag?.ToString();

    [Fact]
    public async Task Deadlines_outlive_SIGKILL_and_restart_and_a_key_that_expired_meanwhile_is_absent()
    {
        using var dir = new DataDir();
        string briefTag, longTag, plainTag;
        using (var main = dir.StartMain())
        {
            var brief = await Put(main, "brief", "1", ("Kvs-Ttl", "1"));
            Assert.Equal(201, brief.Status);
            briefTag = Tag(brief)!;
            var lasting = await Put(main, "lasting", "2", ("Kvs-Ttl", "3600"));
            Assert.Equal(201, lasting.Status);
            longTag = Tag(lasting)!;
            plainTag = Tag(await Put(main, "plain", "3"))!;
            main.SendSignal("KILL");
            Assert.True(main.WaitForExit(TimeSpan.FromSeconds(10)));
        }
        await Task.Delay(TimeSpan.FromMilliseconds(1500)); // "brief" passes its deadline while main is down
        using (var main = dir.StartMain())
        {
            Assert.Equal(404, (await GetAsync(main.BaseUri, "/kvs/brief")).Status);
            var lasting = await GetAsync(main.BaseUri, "/kvs/lasting");
            Assert.Equal((200, longTag), (lasting.Status, Tag(lasting)));
            Assert.Equal(plainTag, Tag(await GetAsync(main.BaseUri, "/kvs/plain")));

            var again = await Put(main, "brief", "4", ("If-None-Match", "*"));
            Assert.Equal(201, again.Status);
            Assert.NotEqual(briefTag, Tag(again));
            Assert.NotEqual(longTag, Tag(again));
            Assert.NotEqual(plainTag, Tag(again));
        }
    }
}
