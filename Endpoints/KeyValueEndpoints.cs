using AotKvs.Configuration;
using AotKvs.Protocol;
using AotKvs.Storage;

namespace AotKvs.Endpoints;

/// <summary>
/// The main role's API: GET, PUT and DELETE on /kvs/&lt;key&gt;. One request flows
/// route → key from the raw path → (PUT: value from the body) → store → constant answer.
/// </summary>
internal static class KeyValueEndpoints
{
    public static WebApplicationBuilder AddKeyValueStore(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<KeyValueStore>();
        return builder;
    }

    public static IEndpointRouteBuilder MapKeyValueStore(this IEndpointRouteBuilder app)
    {
        var store = app.ServiceProvider.GetRequiredService<KeyValueStore>();
        var maxJsonDepth = app.ServiceProvider.GetRequiredService<ServiceOptions>().MaxJsonDepth;
        var budget = app.ServiceProvider.GetRequiredService<BufferBudget>();
        app.Map(KeyRules.Prefix + "/{**key}", context => HandleAsync(context, store, maxJsonDepth, budget))
            .WithMetadata(KeyRequestEndpoint.Marker);
        return app;
    }

    private static Task HandleAsync(HttpContext context, KeyValueStore store, int maxJsonDepth, BufferBudget budget)
    {
        // Screening (RequestScreening) has already refused targets that are not paths.
        var target = RequestTarget.PathAndQuery(context)!;
        var status = KeyRules.Locate(RequestTarget.Path(target), out var encodedKey);
        if (status != KeyStatus.Valid)
            return Responses.For(status).WriteAsync(context.Response);

        // Methods are case-sensitive: "get" is not GET. A HEAD is answered as a GET; the
        // server sends the headers (Content-Length included) and drops the body.
        var method = context.Request.Method;
        if (method == HttpMethods.Get || method == HttpMethods.Head)
            return ReadOrRemove(context.Response, store, encodedKey, remove: false);
        if (method == HttpMethods.Put)
            return PutAsync(context, store, target, maxJsonDepth, budget);
        if (method == HttpMethods.Delete)
            return ReadOrRemove(context.Response, store, encodedKey, remove: true);
        return Responses.RefuseKeyMethodAsync(context, RequestTarget.Path(target));
    }

    /// <summary>GET and DELETE: decode the key on the stack and look it up without allocating.</summary>
    private static Task ReadOrRemove(HttpResponse response, KeyValueStore store, ReadOnlySpan<char> encodedKey, bool remove)
    {
        if (encodedKey.Length > KeyRules.MaxEncodedLength) // longer than any key a PUT accepts
        {
            var encoding = KeyRules.CheckOverlong(encodedKey);
            return (encoding == KeyStatus.Valid ? Responses.KeyNotFound : Responses.For(encoding)).WriteAsync(response);
        }

        Span<byte> buffer = stackalloc byte[encodedKey.Length];
        var status = KeyRules.TryDecode(encodedKey, buffer, out var length);
        if (status != KeyStatus.Valid)
            return Responses.For(status).WriteAsync(response);

        var key = buffer[..length];
        if (remove)
            return (store.TryRemove(key) ? Responses.Deleted : Responses.KeyNotFound).WriteAsync(response);
        return store.TryGet(key, out var entry)
            ? Responses.WriteFoundAsync(response, Entry.ValueMemory(entry))
            : Responses.KeyNotFound.WriteAsync(response);
    }

    private static async Task PutAsync(HttpContext context, KeyValueStore store, string target, int maxJsonDepth, BufferBudget budget)
    {
        var (body, error) = await RequestBody.ReadAsync(context.Request, budget);
        using (body)
            await (error ?? Put(store, RequestTarget.Path(target), body.Span, maxJsonDepth)).WriteAsync(context.Response);
    }

    /// <summary>
    /// The key's encoding is checked first (it is about the address), then the body, then
    /// the key's length, as the SPEC's table orders them, at every length.
    /// </summary>
    private static JsonResponse Put(KeyValueStore store, ReadOnlySpan<char> path, ReadOnlySpan<byte> body, int maxJsonDepth)
    {
        KeyRules.Locate(path, out var encodedKey);
        if (encodedKey.Length > KeyRules.MaxEncodedLength)
            return KeyRules.CheckOverlong(encodedKey) != KeyStatus.Valid ? Responses.KeyMalformed
                : PutBody.TryFindValue(body, maxJsonDepth, out _) ? Responses.KeyTooLong
                : Responses.NoValue;

        Span<byte> buffer = stackalloc byte[encodedKey.Length];
        if (KeyRules.TryDecode(encodedKey, buffer, out var length) != KeyStatus.Valid)
            return Responses.KeyMalformed;
        var key = buffer[..length];

        if (!PutBody.TryFindValue(body, maxJsonDepth, out var value))
            return Responses.NoValue;
        if (KeyRules.IsTooLong(key))
            return Responses.KeyTooLong;
        return store.Put(key, body[value]) == PutOutcome.Created ? Responses.Created : Responses.Replaced;
    }
}
