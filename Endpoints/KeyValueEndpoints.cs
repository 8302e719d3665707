using AotKvs.Configuration;
using AotKvs.Storage;

namespace AotKvs.Endpoints;

/// <summary>
/// The main role's API: GET, PUT and DELETE on /kvs/&lt;key&gt;. One request flows
/// route → key from the raw path → (PUT: value from the body) → store → constant answer.
/// </summary>
internal static class KeyValueEndpoints
{
    public static IEndpointRouteBuilder MapKeyValueStore(this IEndpointRouteBuilder app)
    {
        var store = app.ServiceProvider.GetRequiredService<KeyValueStore>();
        var maxJsonDepth = app.ServiceProvider.GetRequiredService<ServiceOptions>().MaxJsonDepth;
        app.Map(KeyRules.Prefix + "/{**key}", context => HandleAsync(context, store, maxJsonDepth));
        return app;
    }

    private static Task HandleAsync(HttpContext context, KeyValueStore store, int maxJsonDepth)
    {
        if (RequestTarget.PathAndQuery(context) is not { } target)
            return Responses.BadTarget.WriteAsync(context.Response);

        var status = KeyRules.Locate(RequestTarget.Path(target), out var encodedKey);
        if (status != KeyStatus.Valid)
            return Answer(status).WriteAsync(context.Response);

        var method = context.Request.Method;
        if (HttpMethods.IsGet(method))
            return ReadOrRemove(context.Response, store, encodedKey, remove: false);
        if (HttpMethods.IsPut(method))
            return PutAsync(context, store, target, maxJsonDepth);
        if (HttpMethods.IsDelete(method))
            return ReadOrRemove(context.Response, store, encodedKey, remove: true);

        context.Response.Headers.Allow = Responses.AllowedKeyMethods;
        return Responses.MethodNotAllowed.WriteAsync(context.Response);
    }

    /// <summary>GET and DELETE: decode the key on the stack and look it up without allocating.</summary>
    private static Task ReadOrRemove(HttpResponse response, KeyValueStore store, ReadOnlySpan<char> encodedKey, bool remove)
    {
        if (encodedKey.Length > KeyRules.MaxEncodedLength)
            return Responses.KeyNotFound.WriteAsync(response); // longer than any key a PUT accepts

        Span<byte> buffer = stackalloc byte[encodedKey.Length];
        var status = KeyRules.TryDecode(encodedKey, buffer, out var length);
        if (status != KeyStatus.Valid)
            return Answer(status).WriteAsync(response);

        var key = buffer[..length];
        if (remove)
            return (store.TryRemove(key) ? Responses.Deleted : Responses.KeyNotFound).WriteAsync(response);
        return store.TryGet(key, out var entry)
            ? Responses.WriteFoundAsync(response, Entry.Value(entry))
            : Responses.KeyNotFound.WriteAsync(response);
    }

    private static async Task PutAsync(HttpContext context, KeyValueStore store, string target, int maxJsonDepth)
    {
        var (body, error) = await RequestBody.ReadAsync(context.Request);
        using (body)
            await (error ?? Put(store, RequestTarget.Path(target), body.Span, maxJsonDepth)).WriteAsync(context.Response);
    }

    /// <summary>
    /// The key's encoding is checked first (it is about the address), then the body, then
    /// the key's length, as the SPEC's table orders them.
    /// </summary>
    private static JsonResponse Put(KeyValueStore store, ReadOnlySpan<char> path, ReadOnlySpan<byte> body, int maxJsonDepth)
    {
        KeyRules.Locate(path, out var encodedKey);
        if (encodedKey.Length > KeyRules.MaxEncodedLength)
            return PutBody.TryFindValue(body, maxJsonDepth, out _) ? Responses.KeyTooLong : Responses.NoValue;

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

    private static JsonResponse Answer(KeyStatus status) => status switch
    {
        KeyStatus.Missing => Responses.KeyMissing,
        KeyStatus.Malformed => Responses.KeyMalformed,
        _ => Responses.PathNotFound,
    };
}
