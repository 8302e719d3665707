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

        var path = RequestTarget.Path(target);
        var status = KeyRules.Locate(path, out var encodedKey);
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

        Span<char> buffer = stackalloc char[encodedKey.Length];
        var status = KeyRules.TryDecode(encodedKey, buffer, out var length);
        if (status != KeyStatus.Valid)
            return Answer(status).WriteAsync(response);

        var key = buffer[..length];
        if (remove)
            return (store.TryRemove(key) ? Responses.Deleted : Responses.KeyNotFound).WriteAsync(response);
        return store.TryGet(key, out var value)
            ? Responses.WriteFoundAsync(response, value)
            : Responses.KeyNotFound.WriteAsync(response);
    }

    private static async Task PutAsync(HttpContext context, KeyValueStore store, string target, int maxJsonDepth)
    {
        // The key's own errors come first: they are about the address, not the body.
        var status = KeyRules.TryDecode(RequestTarget.Path(target), out var key);
        if (status != KeyStatus.Valid)
        {
            await Answer(status).WriteAsync(context.Response);
            return;
        }

        var (body, error) = await RequestBody.ReadAsync(context.Request);
        using (body)
        {
            var answer = error
                ?? (PutBody.TryReadValue(body.Span, maxJsonDepth) is not { } value ? Responses.NoValue
                : KeyRules.IsTooLong(key) ? Responses.KeyTooLong
                : store.Put(key, value) == PutOutcome.Created ? Responses.Created
                : Responses.Replaced);
            await answer.WriteAsync(context.Response);
        }
    }

    private static JsonResponse Answer(KeyStatus status) => status switch
    {
        KeyStatus.Missing => Responses.KeyMissing,
        KeyStatus.Malformed => Responses.KeyMalformed,
        _ => Responses.PathNotFound,
    };
}
