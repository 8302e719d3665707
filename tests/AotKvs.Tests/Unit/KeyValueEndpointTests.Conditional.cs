using AotKvs.Storage;
using AotKvs.Storage.Memory;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// Conditional requests at the key endpoint, in process: ETags on every 2xx that has a value,
/// 304 and 412 where RFC 9110 §13.2 puts them, the contract's own answers first, and a store
/// without versions still refusing (501) rather than writing or reading unchecked.
/// </summary>
public sealed partial class KeyValueEndpointTests
{
    private const string Created = """{"result":"created"}""";
    private const string Replaced = """{"result":"replaced"}""";
    private const string Failed = """{"error":"Precondition failed"}""";
    private const string Malformed = """{"error":"Precondition header is malformed"}""";
    private const string Missing = """{"error":"Key does not exist"}""";

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Every_value_answer_carries_its_tag_and_preconditions_follow_the_RFC(string kind)
    {
        var memory = new MemoryStore("s0");
        IKeyValueStore store = kind == "memory" ? memory : new AnswersLater(memory);
        await using var server = await EndpointServer.StartAsync(store);

        var created = await server.RequestAsync("PUT", "/kvs/a", """{"value": 1}""", ("If-None-Match", "*"));
        Assert.Equal((201, Created), (created.Status, created.Body));
        Assert.Matches("^\"s0-[1-9a-f][0-9a-f]*\"$", created.ETag);
        Assert.Equal((412, Failed, created.ETag), await server.RequestAsync("PUT", "/kvs/a", """{"value": 2}""", ("If-None-Match", "*")));

        var got = await server.RequestAsync("GET", "/kvs/a", null);
        Assert.Equal((200, """{"result":"found","value":1}""", created.ETag), got);
        Assert.Equal((200, "", created.ETag), await server.RequestAsync("HEAD", "/kvs/a", null));
        Assert.Equal((304, "", created.ETag), await server.RequestAsync("GET", "/kvs/a", null, ("If-None-Match", created.ETag!)));
        Assert.Equal((304, "", created.ETag), await server.RequestAsync("HEAD", "/kvs/a", null, ("If-None-Match", "W/" + created.ETag)));
        Assert.Equal((304, "", created.ETag), await server.RequestAsync("GET", "/kvs/a", null, ("If-None-Match", "*")));
        Assert.Equal((412, Failed, created.ETag), await server.RequestAsync("GET", "/kvs/a", null, ("If-Match", "\"s0-ffff\"")));
        Assert.Equal((412, Failed, created.ETag), await server.RequestAsync("GET", "/kvs/a", null, ("If-Match", "W/" + created.ETag)));
        Assert.Equal(got, await server.RequestAsync("GET", "/kvs/a", null, ("If-Match", created.ETag!)));
        // Both fail: If-Match is evaluated first, so 412, not 304.
        Assert.Equal((412, Failed, created.ETag), await server.RequestAsync("GET", "/kvs/a", null, ("If-Match", "\"s0-ffff\""), ("If-None-Match", created.ETag!)));

        var replaced = await server.RequestAsync("PUT", "/kvs/a", """{"value": 2}""", ("If-Match", $"\"other\", {created.ETag}"));
        Assert.Equal((200, Replaced), (replaced.Status, replaced.Body));
        Assert.NotEqual(created.ETag, replaced.ETag);
        Assert.Equal((412, Failed, replaced.ETag), await server.RequestAsync("PUT", "/kvs/a", """{"value": 3}""", ("If-Match", created.ETag!)));
        Assert.Equal((412, Failed, replaced.ETag), await server.RequestAsync("DELETE", "/kvs/a", null, ("If-Match", created.ETag!)));
        Assert.Equal((412, Failed, replaced.ETag), await server.RequestAsync("DELETE", "/kvs/a", null, ("If-None-Match", replaced.ETag!)));
        Assert.Equal((200, """{"result":"deleted"}""", null), await server.RequestAsync("DELETE", "/kvs/a", null, ("If-Match", replaced.ETag!)));

        // An absent key: GET, HEAD and DELETE stay 404 whatever the preconditions; a PUT with If-Match fails.
        Assert.Equal((404, Missing, null), await server.RequestAsync("GET", "/kvs/a", null, ("If-Match", "*")));
        Assert.Equal((404, Missing, null), await server.RequestAsync("GET", "/kvs/a", null, ("If-None-Match", "*")));
        Assert.Equal((404, "", null), await server.RequestAsync("HEAD", "/kvs/a", null, ("If-Match", replaced.ETag!)));
        Assert.Equal((404, Missing, null), await server.RequestAsync("DELETE", "/kvs/a", null, ("If-Match", replaced.ETag!)));
        Assert.Equal((412, Failed, null), await server.RequestAsync("PUT", "/kvs/a", """{"value": 4}""", ("If-Match", "*")));
        Assert.Equal((412, Failed, null), await server.RequestAsync("PUT", "/kvs/a", """{"value": 4}""", ("If-Match", replaced.ETag!)));
        Assert.False(memory.TryGet("a"u8, out _));
    }

    [Fact]
    public async Task The_contract_400s_come_before_a_malformed_precondition_and_that_before_the_store()
    {
        var store = new Refuses(StoreFailure.Unavailable);
        await using var server = await EndpointServer.StartAsync(store);
        var bad = ("If-Match", "not-a-tag");

        Assert.Equal(400, (await server.RequestAsync("PUT", "/kvs/%FF", """{"value": 1}""", bad)).Status);
        Assert.Equal((400, """{"error":"PUT request does not specify a value"}""", null), await server.RequestAsync("PUT", "/kvs/a", """{"x": 1}""", bad));
        Assert.Equal((400, """{"error":"Key is too long"}""", null), await server.RequestAsync("PUT", "/kvs/" + new string('k', 51), """{"value": 1}""", bad));
        Assert.Equal((400, """{"error":"Key is not valid percent-encoded UTF-8"}""", null), await server.RequestAsync("GET", "/kvs/%C3%28", null, bad));
        Assert.Equal((400, """{"error":"Key is missing"}""", null), await server.RequestAsync("DELETE", "/kvs/", null, bad));
        Assert.Equal(0, store.Calls);

        Assert.Equal((400, Malformed, null), await server.RequestAsync("PUT", "/kvs/a", """{"value": 1}""", bad));
        Assert.Equal((400, Malformed, null), await server.RequestAsync("GET", "/kvs/a", null, ("If-None-Match", "*, \"a\"")));
        Assert.Equal((400, "", null), await server.RequestAsync("HEAD", "/kvs/a", null, bad));
        Assert.Equal((400, Malformed, null), await server.RequestAsync("DELETE", "/kvs/a", null, ("If-Match", "w/\"a\"")));
        Assert.Equal((400, Malformed, null), await server.RequestAsync("GET", "/kvs/" + new string('k', 700), null, bad));
        Assert.Equal(0, store.Calls);
    }

    [Fact]
    public async Task A_store_without_versions_sends_no_tag_and_refuses_every_conditional_request()
    {
        var memory = new MemoryStore();
        await using var server = await EndpointServer.StartAsync(new Unversioned(memory));
        const string Unsupported = """{"error":"Conditional requests are not supported by this store"}""";

        Assert.Equal((201, Created, null), await server.RequestAsync("PUT", "/kvs/a", """{"value": 1}"""));
        Assert.Equal((200, """{"result":"found","value":1}""", null), await server.RequestAsync("GET", "/kvs/a", null));
        Assert.Equal((501, Unsupported, null), await server.RequestAsync("GET", "/kvs/a", null, ("If-None-Match", "*")));
        Assert.Equal((501, Unsupported, null), await server.RequestAsync("PUT", "/kvs/a", """{"value": 2}""", ("If-Match", "*")));
        Assert.Equal((501, Unsupported, null), await server.RequestAsync("DELETE", "/kvs/a", null, ("If-Match", "*")));
        Assert.Equal((404, Missing, null), await server.RequestAsync("GET", "/kvs/b", null, ("If-Match", "*")));
        Assert.True(memory.TryGet("a"u8, out var entry));
        Assert.Equal("1"u8.ToArray(), Entry.Value(entry).ToArray());
    }

    /// <summary>A store as they were before versions: version 0, scope "", conditional writes refused.</summary>
    private sealed class Unversioned(MemoryStore inner) : IKeyValueStore
    {
        public string VersionScope => "";

        public async ValueTask<StoredValue> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancel)
        {
            var found = await inner.GetAsync(key, cancel);
            return found with { Version = 0 };
        }

        public ValueTask<WriteResult> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, Precondition condition, Lifetime lifetime, CancellationToken cancel)
        {
            Unconditional.Require(condition);
            return new(inner.Put(key.Span, valueJson.Span, condition) with { Version = 0 });
        }

        public ValueTask WaitForChangeAsync(ReadOnlyMemory<byte> key, ulong version, CancellationToken cancel) =>
            throw new StoreException(StoreFailure.WatchUnsupported, "a store without versions cannot tell a change");

        public ValueTask<WriteResult> DeleteAsync(ReadOnlyMemory<byte> key, Precondition condition, CancellationToken cancel)
        {
            Unconditional.Require(condition);
            return new(inner.Remove(key.Span, condition));
        }
    }
}
