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
    public static IEndpointRouteBuilder MapKeyValueStore(this IEndpointRouteBuilder app)
    {
        var store = app.ServiceProvider.GetRequiredService<IKeyValueStore>();
        var maxJsonDepth = app.ServiceProvider.GetRequiredService<ServiceOptions>().MaxJsonDepth;
        var budget = app.ServiceProvider.GetRequiredService<BufferBudget>();
        app.Map(KeyPath.Prefix + "/{**key}", context => HandleAsync(context, store, maxJsonDepth, budget))
            .WithMetadata(KeyRequestEndpoint.Marker);
        return app;
    }

    private static Task HandleAsync(HttpContext context, IKeyValueStore store, int maxJsonDepth, BufferBudget budget)
    {
        // Screening (RequestScreening) has already refused targets that are not paths.
        var target = RequestTarget.PathAndQuery(context)!;
        var status = KeyPath.Locate(RequestTarget.Path(target), out var encodedKey);
        if (status != KeyStatus.Valid)
            return Responses.For(status).WriteAsync(context.Response);

        // Methods are case-sensitive: "get" is not GET. A HEAD is answered as a GET; the
        // server sends the headers (Content-Length included) and drops the body.
        var method = context.Request.Method;
        if (method == HttpMethods.Get || method == HttpMethods.Head)
            return ReadOrRemove(context, store, encodedKey, remove: false);
        if (method == HttpMethods.Put)
            return PutAsync(context, store, target, maxJsonDepth, budget);
        if (method == HttpMethods.Delete)
            return ReadOrRemove(context, store, encodedKey, remove: true);
        context.Response.Headers.Allow = Responses.AllowedKeyMethods;
        return Responses.MethodNotAllowed.WriteAsync(context.Response);
    }

    /// <summary>GET and DELETE: decode the key into a pooled buffer and ask the store.</summary>
    private static Task ReadOrRemove(HttpContext context, IKeyValueStore store, ReadOnlySpan<char> encodedKey, bool remove)
    {
        if (encodedKey.Length > KeyRules.MaxEncodedLength) // longer than any key a PUT accepts
        {
            var encoding = KeyRules.CheckOverlong(encodedKey);
            return (encoding == KeyStatus.Valid ? Responses.KeyNotFound : Responses.For(encoding)).WriteAsync(context.Response);
        }

        var status = DecodedKey.TryDecode(encodedKey, out var key);
        if (status != KeyStatus.Valid)
            return Responses.For(status).WriteAsync(context.Response);
        return remove ? DeleteAsync(context, store, key) : GetAsync(context, store, key);
    }

    private static async Task GetAsync(HttpContext context, IKeyValueStore store, DecodedKey key)
    {
        StoredValue found;
        try
        {
            found = await store.GetAsync(key.Utf8, context.RequestAborted);
        }
        catch (StoreException e)
        {
            await RefusalFor(e).WriteAsync(context.Response);
            return;
        }
        finally
        {
            key.Dispose();
        }
        await (found.Found ? Responses.WriteFoundAsync(context.Response, found.Json) : Responses.KeyNotFound.WriteAsync(context.Response));
    }

    private static async Task DeleteAsync(HttpContext context, IKeyValueStore store, DecodedKey key)
    {
        JsonResponse answer;
        try
        {
            answer = (await store.DeleteAsync(key.Utf8, Precondition.None, context.RequestAborted)).Outcome == WriteOutcome.Deleted
                ? Responses.Deleted : Responses.KeyNotFound;
        }
        catch (StoreException e)
        {
            answer = RefusalFor(e);
        }
        finally
        {
            key.Dispose();
        }
        await answer.WriteAsync(context.Response);
    }

    private static async Task PutAsync(HttpContext context, IKeyValueStore store, string target, int maxJsonDepth, BufferBudget budget)
    {
        var (body, error) = await RequestBody.ReadAsync(context.Request, budget);
        using (body)
        {
            DecodedKey key = default;
            Range value = default;
            var answer = error ?? Check(RequestTarget.Path(target), body.Span, maxJsonDepth, out key, out value);
            if (answer is null)
            {
                try
                {
                    answer = (await store.PutAsync(key.Utf8, body.Memory[value], Precondition.None, context.RequestAborted)).Outcome == WriteOutcome.Created
                        ? Responses.Created : Responses.Replaced;
                }
                catch (StoreException e)
                {
                    answer = RefusalFor(e);
                }
                finally
                {
                    key.Dispose();
                }
            }
            await answer.WriteAsync(context.Response);
        }
    }

    /// <summary>
    /// A PUT's refusal, or null with the decoded key and the value's place in the body. The
    /// key's encoding is checked first (it is about the address), then the body, then the
    /// key's length, as the SPEC's table orders them, at every length.
    /// </summary>
    private static JsonResponse? Check(ReadOnlySpan<char> path, ReadOnlySpan<byte> body, int maxJsonDepth, out DecodedKey key, out Range value)
    {
        key = default;
        value = default;
        KeyPath.Locate(path, out var encodedKey);
        if (encodedKey.Length > KeyRules.MaxEncodedLength)
            return KeyRules.CheckOverlong(encodedKey) != KeyStatus.Valid ? Responses.KeyMalformed
                : PutBody.TryFindValue(body, maxJsonDepth, out value) ? Responses.KeyTooLong
                : Responses.NoValue;

        if (DecodedKey.TryDecode(encodedKey, out var decoded) != KeyStatus.Valid)
            return Responses.KeyMalformed;

        JsonResponse? refusal = !PutBody.TryFindValue(body, maxJsonDepth, out value) ? Responses.NoValue
            : KeyRules.IsTooLong(decoded.Utf8.Span) ? Responses.KeyTooLong
            : null;
        if (refusal is not null)
            decoded.Dispose();
        else
            key = decoded;
        return refusal;
    }

    /// <summary>A store that cannot answer logs why itself; the client gets a JSON error.</summary>
    private static JsonResponse RefusalFor(StoreException e) => e.Failure switch
    {
        StoreFailure.ValueTooLarge => Responses.ValueTooLargeForStore,
        StoreFailure.ConditionsUnsupported => Responses.ConditionsUnsupported,
        _ => Responses.StoreUnavailable,
    };
}
