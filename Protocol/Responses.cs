namespace AotKvs.Protocol;

/// <summary>
/// Every fixed answer the service gives, written once. The SPEC's strings live here and
/// nowhere else.
/// </summary>
internal static class Responses
{
    public static readonly JsonResponse Created = JsonResponse.Result(StatusCodes.Status201Created, "created");
    public static readonly JsonResponse Replaced = JsonResponse.Result(StatusCodes.Status200OK, "replaced");
    public static readonly JsonResponse Deleted = JsonResponse.Result(StatusCodes.Status200OK, "deleted");

    public static readonly JsonResponse NoValue = JsonResponse.Error(StatusCodes.Status400BadRequest, "PUT request does not specify a value");
    public static readonly JsonResponse KeyTooLong = JsonResponse.Error(StatusCodes.Status400BadRequest, "Key is too long");
    public static readonly JsonResponse KeyMissing = JsonResponse.Error(StatusCodes.Status400BadRequest, "Key is missing");
    public static readonly JsonResponse KeyNotFound = JsonResponse.Error(StatusCodes.Status404NotFound, "Key does not exist");
    public static readonly JsonResponse CannotForward = JsonResponse.Error(StatusCodes.Status503ServiceUnavailable, "Cannot forward request");

    // Beyond the SPEC: bad input still gets a clear JSON error, never a 500.
    public static readonly JsonResponse KeyMalformed = JsonResponse.Error(StatusCodes.Status400BadRequest, "Key is not valid percent-encoded UTF-8");
    public static readonly JsonResponse MethodNotAllowed = JsonResponse.Error(StatusCodes.Status405MethodNotAllowed, "Method not allowed");
    public static readonly JsonResponse PathNotFound = JsonResponse.Error(StatusCodes.Status404NotFound, "Not found");
    public static readonly JsonResponse BodyTooLarge = JsonResponse.Error(StatusCodes.Status413PayloadTooLarge, "Request body is too large");
    public static readonly JsonResponse BodyMalformed = JsonResponse.Error(StatusCodes.Status400BadRequest, "Request body is malformed");
    public static readonly JsonResponse LoopDetected = JsonResponse.Error(StatusCodes.Status508LoopDetected, "Forwarding loop detected");
    public static readonly JsonResponse BadTarget = JsonResponse.Error(StatusCodes.Status400BadRequest, "Request target is not a path");
    public static readonly JsonResponse StoreUnavailable = JsonResponse.Error(StatusCodes.Status503ServiceUnavailable, "Store is unavailable");
    public static readonly JsonResponse ConditionsUnsupported = JsonResponse.Error(StatusCodes.Status501NotImplemented, "Conditional requests are not supported by this store");
    public static readonly JsonResponse LifetimeMalformed = JsonResponse.Error(StatusCodes.Status400BadRequest, "Kvs-Ttl is not a whole number of seconds from 1 to 315360000");
    public static readonly JsonResponse ExpiryUnsupported = JsonResponse.Error(StatusCodes.Status501NotImplemented, "Expiry is not supported by this store");
    public static readonly JsonResponse ValueTooLargeForStore = JsonResponse.Error(StatusCodes.Status413PayloadTooLarge, "Value is too large for the store");
    // Conditional requests (RFC 9110 §13): a precondition that does not hold, a header that is neither "*" nor a list of entity tags.
    public static readonly JsonResponse PreconditionFailed = JsonResponse.Error(StatusCodes.Status412PreconditionFailed, "Precondition failed");
    public static readonly JsonResponse PreconditionMalformed = JsonResponse.Error(StatusCodes.Status400BadRequest, "Precondition header is malformed");
    // Sent with "Connection: close": the bytes all connections may buffer (KVS_MAX_BUFFERED_BYTES) are spent.
    public static readonly JsonResponse Busy = JsonResponse.Error(StatusCodes.Status503ServiceUnavailable, "Server is busy");
    public static readonly JsonResponse HeadersTooLarge = JsonResponse.Error(StatusCodes.Status431RequestHeaderFieldsTooLarge, "Request headers are too large");

    /// <summary>
    /// The buffer budget is spent: 503 "Server is busy", and the connection is closed, so
    /// the rest of a body is never read. For a request body and for main's answer alike.
    /// </summary>
    public static JsonResponse BusyAndClose(HttpResponse response)
    {
        response.Headers.Connection = "close";
        return Busy;
    }

    /// <summary>Methods the key endpoint answers, for the Allow header of a 405.</summary>
    public const string AllowedKeyMethods = "GET, HEAD, PUT, DELETE";

    private static readonly byte[] FoundPrefix = """{"result":"found","value":"""u8.ToArray();
    private static readonly byte[] FoundSuffix = "}"u8.ToArray();

    /// <summary>200 with the stored JSON value spliced in as it was written, sent from the entry itself.</summary>
    public static Task WriteFoundAsync(HttpResponse response, ReadOnlyMemory<byte> value) =>
        JsonResponse.WriteLargeAsync(response, StatusCodes.Status200OK, FoundPrefix, value, FoundSuffix);

    /// <summary>The answer to a key path that names no usable key.</summary>
    public static JsonResponse For(KeyStatus status) => status switch
    {
        KeyStatus.Missing => KeyMissing,
        KeyStatus.Malformed => KeyMalformed,
        _ => PathNotFound,
    };
}
