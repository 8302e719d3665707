using System.Text;
using AotKvs.Configuration;
using AotKvs.Endpoints;
using AotKvs.Protocol;
using AotKvs.Storage.Memory;
using AotKvs.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The key endpoint in process, over stores of every kind the seam allows: the memory store,
/// a store that answers later (as a disk or a cluster does), and stores that refuse. The
/// answers must be the same byte for byte whatever the store, and a refusal must become its
/// JSON error, never a 500. The process tests prove the same over the real binary.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class KeyValueEndpointTests
{
    public static TheoryData<string> Stores => ["memory", "later"];

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Every_store_gives_the_contract_answers(string kind)
    {
        IKeyValueStore store = kind == "memory" ? new MemoryStore() : new AnswersLater(new MemoryStore());
        await using var server = await EndpointServer.StartAsync(store);

        Assert.Equal((201, """{"result":"created"}"""), await server.SendAsync("PUT", "/kvs/a%2Fb", """{"value": {"x": [1, "é"]}}"""));
        Assert.Equal((200, """{"result":"replaced"}"""), await server.SendAsync("PUT", "/kvs/a/b", """{"value": 7}"""));
        Assert.Equal((200, """{"result":"found","value":7}"""), await server.SendAsync("GET", "/kvs/a%2fb"));
        Assert.Equal((200, """{"result":"deleted"}"""), await server.SendAsync("DELETE", "/kvs/a/b"));
        Assert.Equal((404, """{"error":"Key does not exist"}"""), await server.SendAsync("DELETE", "/kvs/a/b"));
        Assert.Equal((404, """{"error":"Key does not exist"}"""), await server.SendAsync("GET", "/kvs/a/b"));
        Assert.Equal((400, """{"error":"Key is not valid percent-encoded UTF-8"}"""), await server.SendAsync("GET", "/kvs/%C3%28"));
        Assert.Equal((400, """{"error":"Key is too long"}"""), await server.SendAsync("PUT", "/kvs/" + new string('k', 51), """{"value": 1}"""));
        Assert.Equal((400, """{"error":"PUT request does not specify a value"}"""), await server.SendAsync("PUT", "/kvs/a", """{"other": 1}"""));
    }

    [Theory]
    [InlineData("unavailable", 503, """{"error":"Store is unavailable"}""")]
    [InlineData("value too large", 413, """{"error":"Value is too large for the store"}""")]
    public async Task A_store_refusal_is_its_JSON_error_on_every_method(string failure, int status, string body)
    {
        var refusal = failure == "unavailable" ? StoreFailure.Unavailable : StoreFailure.ValueTooLarge;
        await using var server = await EndpointServer.StartAsync(new Refuses(refusal));

        Assert.Equal((status, body), await server.SendAsync("PUT", "/kvs/a", """{"value": 1}"""));
        Assert.Equal((status, body), await server.SendAsync("GET", "/kvs/a"));
        Assert.Equal((status, ""), await server.SendAsync("HEAD", "/kvs/a"));
        Assert.Equal((status, body), await server.SendAsync("DELETE", "/kvs/a"));
    }

    [Fact]
    public async Task Requests_the_endpoint_refuses_never_reach_the_store()
    {
        var store = new Refuses(StoreFailure.Unavailable);
        await using var server = await EndpointServer.StartAsync(store);

        Assert.Equal(400, (await server.SendAsync("PUT", "/kvs/%FF", """{"value": 1}""")).Status);
        Assert.Equal(400, (await server.SendAsync("PUT", "/kvs/a", "{")).Status);
        Assert.Equal(400, (await server.SendAsync("PUT", "/kvs/" + new string('k', 51), """{"value": 1}""")).Status);
        Assert.Equal(400, (await server.SendAsync("GET", "/kvs/%C3%28")).Status);
        Assert.Equal(404, (await server.SendAsync("GET", "/kvs/" + new string('k', 700))).Status);
        Assert.Equal(405, (await server.SendAsync("POST", "/kvs/a")).Status);
        Assert.Equal(0, store.Calls);
    }

    [Fact]
    public async Task The_store_gets_the_decoded_key_and_the_value_text_exactly()
    {
        var memory = new MemoryStore();
        await using var server = await EndpointServer.StartAsync(memory);

        await server.SendAsync("PUT", "/kvs/%E2%82%AC%20x", """{ "value" :  [1,  2] }""");

        Assert.True(memory.TryGet("€ x"u8, out var entry));
        Assert.Equal("[1,  2]", Encoding.UTF8.GetString(Entry.Value(entry)));
    }

    /// <summary>The memory store's answers, given only after a yield: the path a disk or cluster store takes.</summary>
    private sealed class AnswersLater(IKeyValueStore inner) : IKeyValueStore
    {
        public async ValueTask<StoredValue> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancel)
        {
            await Task.Yield();
            return await inner.GetAsync(key, cancel);
        }

        public string? VersionScope => inner.VersionScope;

        public async ValueTask<WriteResult> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, Precondition condition, Lifetime lifetime, CancellationToken cancel)
        {
            await Task.Yield();
            return await inner.PutAsync(key, valueJson, condition, lifetime, cancel);
        }

        public async ValueTask WaitForChangeAsync(ReadOnlyMemory<byte> key, ulong version, CancellationToken cancel)
        {
            await Task.Yield();
            await inner.WaitForChangeAsync(key, version, cancel);
        }

        public async ValueTask<WriteResult> DeleteAsync(ReadOnlyMemory<byte> key, Precondition condition, CancellationToken cancel)
        {
            await Task.Yield();
            return await inner.DeleteAsync(key, condition, cancel);
        }
    }

    /// <summary>Refuses every call, and counts them.</summary>
    private sealed class Refuses(StoreFailure failure) : IKeyValueStore
    {
        public int Calls;

        public ValueTask<StoredValue> GetAsync(ReadOnlyMemory<byte> key, CancellationToken cancel) => throw Refusal();

        public string VersionScope => "refuses";

        public ValueTask<WriteResult> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> valueJson, Precondition condition, Lifetime lifetime, CancellationToken cancel) => throw Refusal();

        public ValueTask WaitForChangeAsync(ReadOnlyMemory<byte> key, ulong version, CancellationToken cancel) => throw Refusal();

        public ValueTask<WriteResult> DeleteAsync(ReadOnlyMemory<byte> key, Precondition condition, CancellationToken cancel) => throw Refusal();

        private StoreException Refusal()
        {
            Interlocked.Increment(ref Calls);
            return new StoreException(failure, "refused by the test");
        }
    }

    /// <summary>The service's key endpoint and screening on a real in-process server, over a given store.</summary>
    private sealed class EndpointServer(WebApplication app, HttpClient client) : IAsyncDisposable
    {
        public static async Task<EndpointServer> StartAsync(IKeyValueStore store)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            builder.Services.AddSingleton(ServiceOptions.Load(new ConfigurationBuilder().Build()));
            builder.Services.AddSingleton(store);
            builder.Services.AddSingleton(new BufferBudget(long.MaxValue));
            var app = builder.Build();
            app.UseRequestScreening();
            app.MapKeyValueStore();
            await app.StartAsync();
            var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromSeconds(10) };
            return new EndpointServer(app, client);
        }

        public async Task<(int Status, string Body)> SendAsync(string method, string path, string? body = null)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (body is not null)
                request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await client.SendAsync(request);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        /// <summary>A request with extra headers (each may repeat); the answer with its ETag, if any.</summary>
        public async Task<(int Status, string Body, string? ETag)> RequestAsync(string method, string path, string? body, params (string Name, string Value)[] headers)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (body is not null)
                request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            foreach (var (name, value) in headers)
                request.Headers.TryAddWithoutValidation(name, value);
            using var response = await client.SendAsync(request);
            var etag = response.Headers.TryGetValues("ETag", out var values) ? string.Join(",", values) : null;
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), etag);
        }

        public async ValueTask DisposeAsync()
        {
            client.Dispose();
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
