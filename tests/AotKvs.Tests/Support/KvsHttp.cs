using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Xunit;

namespace AotKvs.Tests.Support;

/// <summary>A whole HTTP answer, read to the end.</summary>
public sealed record KvsAnswer(int Status, string? ContentType, string Body, HttpResponseHeaders Headers, HttpContentHeaders ContentHeaders)
{
    public JsonNode? Json => JsonNode.Parse(Body);

    /// <summary>A response header's value, its lines joined by commas; null when absent.</summary>
    public string? Header(string name) => Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    /// <summary>Status, Content-Type and the JSON body deep-equal to <paramref name="expectedJson"/>.</summary>
    public void ShouldBe(int status, string expectedJson)
    {
        Assert.True(Status == status, $"expected {status}, got {Status} {Body}");
        Assert.Equal("application/json", ContentType);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expectedJson), Json), $"expected {expectedJson}, got {Body}");
    }

    /// <summary>A 4xx whose body is a JSON object with a string "error".</summary>
    public void ShouldBeJsonError(int status)
    {
        Assert.True(Status == status, $"expected {status}, got {Status} {Body}");
        Assert.Equal("application/json", ContentType);
        Assert.IsType<string>(Json!["error"]!.GetValue<string>());
    }
}

/// <summary>Sends requests with the path and query exactly as written (no re-escaping).</summary>
public static class KvsHttp
{
    private static readonly HttpClient Client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2),
    })
    {
        Timeout = TimeSpan.FromSeconds(15),
    };

    public static Task<KvsAnswer> GetAsync(Uri server, string pathAndQuery) => SendAsync(server, "GET", pathAndQuery);

    public static Task<KvsAnswer> DeleteAsync(Uri server, string pathAndQuery) => SendAsync(server, "DELETE", pathAndQuery);

    /// <summary>PUT {"value": valueJson}.</summary>
    public static Task<KvsAnswer> PutValueAsync(Uri server, string pathAndQuery, string valueJson) =>
        SendAsync(server, "PUT", pathAndQuery, $$"""{"value": {{valueJson}}}""");

    public static async Task<KvsAnswer> SendAsync(Uri server, string method, string pathAndQuery,
        string? body = null, string? contentType = "application/json", IEnumerable<(string Name, string Value)>? headers = null, CancellationToken cancel = default)
    {
        var uri = new Uri(server.GetLeftPart(UriPartial.Authority) + pathAndQuery,
            new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var request = new HttpRequestMessage(new HttpMethod(method), uri);
        foreach (var (name, value) in headers ?? [])
            request.Headers.TryAddWithoutValidation(name, value);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            if (contentType is not null)
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        using var response = await Client.SendAsync(request, cancel);
        var text = await response.Content.ReadAsStringAsync(cancel);
        return new KvsAnswer((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, text,
            response.Headers, response.Content.Headers);
    }

    /// <summary>PUT {"value": valueJson}, which must succeed (200 or 201); the ETag it answered with.</summary>
    public static async Task<string> PutTagAsync(Uri server, string pathAndQuery, string valueJson)
    {
        var answer = await PutValueAsync(server, pathAndQuery, valueJson);
        Assert.True(answer.Status is 200 or 201, $"PUT answered {answer.Status} {answer.Body}");
        return answer.Header("ETag") ?? throw new Xunit.Sdk.XunitException("a PUT answered without an ETag");
    }

    /// <summary>A key no other test uses, so tests can share one running cluster.</summary>
    public static string UniqueKey(string hint = "k") => $"{hint}-{Guid.NewGuid():N}"[..Math.Min(hint.Length + 33, 50)];
}
