namespace AotKvs.Tests.Support;

/// <summary>
/// The contract's bodies as the tests expect them, written once here (and once in the
/// service, independently): a test compares a whole answer with one of these after parsing.
/// </summary>
public static class Expected
{
    public const string Created = """{"result": "created"}""";
    public const string Replaced = """{"result": "replaced"}""";
    public const string Deleted = """{"result": "deleted"}""";

    public const string KeyNotFound = """{"error": "Key does not exist"}""";
    public const string NoValue = """{"error": "PUT request does not specify a value"}""";
    public const string KeyTooLong = """{"error": "Key is too long"}""";
    public const string KeyMissing = """{"error": "Key is missing"}""";
    public const string CannotForward = """{"error": "Cannot forward request"}""";

    public const string KeyMalformed = """{"error": "Key is not valid percent-encoded UTF-8"}""";
    public const string MethodNotAllowed = """{"error": "Method not allowed"}""";
    public const string NotFound = """{"error": "Not found"}""";
    public const string BodyTooLarge = """{"error": "Request body is too large"}""";
    public const string LoopDetected = """{"error": "Forwarding loop detected"}""";
    public const string BadTarget = """{"error": "Request target is not a path"}""";
    public const string HeadersTooLarge = """{"error": "Request headers are too large"}""";

    public const string StoreUnavailable = """{"error": "Store is unavailable"}""";
    public const string ValueTooLargeForStore = """{"error": "Value is too large for the store"}""";
    public const string Busy = """{"error": "Server is busy"}""";
}
