using System.Diagnostics.Metrics;
using System.Globalization;
using AotKvs.Configuration;
using AotKvs.Operations;
using AotKvs.Protocol;
using AotKvs.Storage;

namespace AotKvs.Endpoints;

/// <summary>
/// The main role's API: GET, PUT and DELETE on /kvs/&lt;key&gt;. One request flows
/// route → key from the raw path → (PUT: value from the body) → store → constant answer.
/// </summary>
internal static class KeyValueEndpoints
{
    private const string PreferenceApplied = PreferHeader.AppliedName;

    public static IEndpointRouteBuilder MapKeyValueStore(this IEndpointRouteBuilder app)
    {
        var store = app.ServiceProvider.GetRequiredService<IKeyValueStore>();
        var maxJsonDepth = app.ServiceProvider.GetRequiredService<ServiceOptions>().MaxJsonDepth;
        var budget = app.ServiceProvider.GetRequiredService<BufferBudget>();
        var tags = new EntityTags(() => store.VersionScope);
        var options = app.ServiceProvider.GetRequiredService<ServiceOptions>();
        _ = app.ServiceProvider.GetService<MetricsCollector>(); // listening before the waits' zero counts are added
        var waits = new WaitingReads(options.MaxWaitSeconds, options.MaxWaiters, app.ServiceProvider.GetService<IMeterFactory>());
        app.Map(KeyPath.Prefix + "/{**key}", context => HandleAsync(context, store, tags, waits, maxJsonDepth, budget))
            .WithMetadata(KeyRequestEndpoint.Marker);
        return app;
    }

    private static Task HandleAsync(HttpContext context, IKeyValueStore store, EntityTags tags, WaitingReads waits, int maxJsonDepth, BufferBudget budget)
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
            return ReadOrRemove(context, store, tags, waits, encodedKey, remove: false);
        if (method == HttpMethods.Put)
            return PutAsync(context, store, tags, target, maxJsonDepth, budget);
        if (method == HttpMethods.Delete)
            return ReadOrRemove(context, store, tags, waits, encodedKey, remove: true);
        context.Response.Headers.Allow = Responses.AllowedKeyMethods;
        return Responses.MethodNotAllowed.WriteAsync(context.Response);
    }

    /// <summary>
    /// GET and DELETE: decode the key into a pooled buffer and ask the store. The key's 400s
    /// come first, then a malformed precondition's 400, then the store (RFC 9110 §13.2.1).
    /// </summary>
    private static Task ReadOrRemove(HttpContext context, IKeyValueStore store, EntityTags tags, WaitingReads waits, ReadOnlySpan<char> encodedKey, bool remove)
    {
        if (encodedKey.Length > KeyRules.MaxEncodedLength) // longer than any key a PUT accepts
        {
            var encoding = KeyRules.CheckOverlong(encodedKey);
            return (encoding != KeyStatus.Valid ? Responses.For(encoding)
                : !Preconditions.TryRead(context.Request.Headers, tags, out _) ? Responses.PreconditionMalformed
                : Responses.KeyNotFound).WriteAsync(context.Response);
        }

        var status = DecodedKey.TryDecode(encodedKey, out var key);
        if (status != KeyStatus.Valid)
            return Responses.For(status).WriteAsync(context.Response);
        if (!Preconditions.TryRead(context.Request.Headers, tags, out var condition))
        {
            key.Dispose();
            return Responses.PreconditionMalformed.WriteAsync(context.Response);
        }
        if (remove && !condition.IsNone && tags.ScopeUnknown) // its tags could name no version yet
        {
            key.Dispose();
            return Responses.StoreUnavailable.WriteAsync(context.Response);
        }
        return remove ? DeleteAsync(context, store, tags, key, condition) : GetAsync(context, store, tags, waits, key, condition);
    }

    private static async Task GetAsync(HttpContext context, IKeyValueStore store, EntityTags tags, WaitingReads waits, DecodedKey key, Precondition condition)
    {
        StoredValue found;
        var scopeKnown = tags.HasVersions;
        var asksToWait = false;
        var waited = false;
        try
        {
            found = await store.GetAsync(key.Utf8, context.RequestAborted);
            // Read before the store named its scope (a main over etcd, before the cluster's first
            // answer), the tags named no version: read them again now that it has.
            if (!condition.IsNone && !scopeKnown)
                _ = Preconditions.TryRead(context.Request.Headers, tags, out condition);
            asksToWait = PreferHeader.TryReadWait(context.Request.Headers, out var seconds);
            if (asksToWait && seconds > 0 && condition.IfNoneMatch.Present && WaitingReads.Unchanged(condition, found) && (found.Found ? found.Version != 0 : tags.HasVersions))
            {
                var response = context.Response;
                found = await waits.WaitAsync(store, key.Utf8, condition, found, seconds, granted =>
                {
                    waited = granted > 0;
                    if (waited)
                        response.Headers[PreferenceApplied] = "wait=" + granted.ToString(CultureInfo.InvariantCulture);
                    else
                        response.Headers.Remove(PreferenceApplied);
                }, context.RequestAborted);
            }
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
        if (!found.Found) // 404 whatever the preconditions (RFC 9110 §13.2.1), unless a wait for a creation ran out
        {
            if (asksToWait && tags.HasVersions)
                context.Response.Headers.ETag = tags.For(0); // the tag of "absent", to wait on next
            if (waited && WaitingReads.Unchanged(condition, found))
                context.Response.StatusCode = StatusCodes.Status304NotModified;
            else
                await Responses.KeyNotFound.WriteAsync(context.Response);
            return;
        }
        if (!condition.IsNone && found.Version == 0) // a store without versions can check nothing
        {
            await Responses.ConditionsUnsupported.WriteAsync(context.Response);
            return;
        }

        Tag(context.Response, tags, found.Version);
        switch (condition.Evaluate(found.Version))
        {
            case PreconditionResult.IfMatchFailed:
                await Responses.PreconditionFailed.WriteAsync(context.Response);
                break;
            case PreconditionResult.IfNoneMatchFailed: // §13.1.2: a GET or HEAD is answered 304, with the tag and no body
                context.Response.StatusCode = StatusCodes.Status304NotModified;
                break;
            default:
                await Responses.WriteFoundAsync(context.Response, found.Json);
                break;
        }
    }

    private static async Task DeleteAsync(HttpContext context, IKeyValueStore store, EntityTags tags, DecodedKey key, Precondition condition)
    {
        JsonResponse answer;
        try
        {
            var result = await store.DeleteAsync(key.Utf8, condition, context.RequestAborted);
            answer = Answer(context.Response, tags, result);
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

    private static async Task PutAsync(HttpContext context, IKeyValueStore store, EntityTags tags, string target, int maxJsonDepth, BufferBudget budget)
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
                    var headers = context.Request.Headers;
                    answer = !LifetimeHeader.TryRead(headers[LifetimeHeader.Name], out var lifetime) ? Responses.LifetimeMalformed
                        : !Preconditions.TryRead(headers, tags, out var condition) ? Responses.PreconditionMalformed
                        : !condition.IsNone && tags.ScopeUnknown ? Responses.StoreUnavailable // its tags could name no version yet
                        : Answer(context.Response, tags, await store.PutAsync(key.Utf8, body.Memory[value], condition, lifetime, context.RequestAborted));
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

    /// <summary>A write's answer; a value now stored, or the current one a precondition failed on, has its tag sent.</summary>
    private static JsonResponse Answer(HttpResponse response, EntityTags tags, WriteResult result)
    {
        switch (result.Outcome)
        {
            case WriteOutcome.Created:
                Tag(response, tags, result.Version);
                return Responses.Created;
            case WriteOutcome.Replaced:
                Tag(response, tags, result.Version);
                return Responses.Replaced;
            case WriteOutcome.Deleted:
                return Responses.Deleted;
            case WriteOutcome.PreconditionFailed:
                Tag(response, tags, result.Version);
                return Responses.PreconditionFailed;
            default:
                return Responses.KeyNotFound;
        }
    }

    /// <summary>The ETag of a value that has a version (0: absent, or a store without versions).</summary>
    private static void Tag(HttpResponse response, EntityTags tags, ulong version)
    {
        if (version != 0 && tags.HasVersions)
            response.Headers.ETag = tags.For(version);
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
        StoreFailure.ExpiryUnsupported => Responses.ExpiryUnsupported,
        _ => Responses.StoreUnavailable,
    };
}
