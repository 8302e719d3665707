using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Durability;

/// <summary>
/// A main with a data dir keeps its ETags across SIGKILL and restart: the tag a client holds
/// still names the value it read, a conditional PUT with it still works, and no tag is ever
/// given to another value (a deleted key's included).
/// </summary>
[Trait("Category", "Durability")]
public sealed class VersionRestartTests
{
    private static Task<KvsAnswer> Put(ServerProcess main, string key, string value, params (string, string)[] headers) =>
        SendAsync(main.BaseUri, "PUT", "/kvs/" + key, $$"""{"value": {{value}}}""", headers: headers);

    private static string? Tag(KvsAnswer answer) => answer.Headers.ETag?.ToString();

    [Theory]
    [InlineData("always")]
    [InlineData("periodic")]
    public async Task A_tag_survives_SIGKILL_and_restart_and_none_is_given_twice(string sync)
    {
        using var dir = new DataDir();
        string held, goneTag;
        using (var main = dir.StartMain(("KVS_SYNC", sync)))
        {
            var created = await Put(main, "counter", "1");
            Assert.Equal(201, created.Status);
            held = Tag(created)!;
            Assert.Matches("^\"[0-9a-f]{16}-[0-9a-f]+\"$", held);
            goneTag = Tag(await Put(main, "gone", "\"x\""))!;
            Assert.Equal(200, (await DeleteAsync(main.BaseUri, "/kvs/gone")).Status);
            main.SendSignal("KILL");
            Assert.True(main.WaitForExit(TimeSpan.FromSeconds(10)));
        }
        using (var main = dir.StartMain(("KVS_SYNC", sync)))
        {
            var read = await GetAsync(main.BaseUri, "/kvs/counter");
            Assert.Equal(held, Tag(read));
            var again = await Put(main, "gone", "\"y\"");
            Assert.Equal(201, again.Status);
            Assert.NotEqual(goneTag, Tag(again));
            Assert.StartsWith(held[..18], Tag(again), StringComparison.Ordinal); // the same scope

            var next = await Put(main, "counter", "2", ("If-Match", held));
            Assert.Equal(200, next.Status);
            Assert.NotEqual(held, Tag(next));
            var stale = await Put(main, "counter", "3", ("If-Match", held));
            Assert.Equal(412, stale.Status);
            Assert.Equal(Tag(next), Tag(stale));
        }
    }

    [Fact]
    public async Task Of_16_concurrent_conditional_puts_with_one_tag_exactly_one_succeeds()
    {
        using var dir = new DataDir();
        using var main = dir.StartMain();
        for (var round = 0; round < 5; round++)
        {
            var basis = Tag(await Put(main, "k", $"{round}"))!;
            var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Put(main, "k", $"{i}", ("If-Match", basis))));
            var winner = Assert.Single(answers, a => a.Status == 200);
            Assert.All(answers.Where(a => a != winner), a =>
            {
                Assert.Equal(412, a.Status);
                Assert.Equal(Tag(winner), Tag(a));
            });
        }
    }
}
