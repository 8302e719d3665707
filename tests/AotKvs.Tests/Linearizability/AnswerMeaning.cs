using System.Text.Json;

namespace AotKvs.Tests.Linearizability;

/// <summary>
/// What an HTTP answer means for the operation that was sent, per the SPEC's tables, and
/// nothing more: an answer that belongs to another operation (a GET answered "created"),
/// another status or body, or a garbled status line is an anomaly, never an outcome.
/// </summary>
public static class AnswerMeaning
{
    /// <summary>
    /// The answer's ETag (<paramref name="tag"/>) is kept with the outcome; a 412 is an outcome
    /// only to a request that carried a precondition (<paramref name="conditional"/>).
    /// </summary>
    public static Reply Interpret(OpKind kind, int status, string body, string? tag = null, bool conditional = false) =>
        Interpret(kind, status, body, conditional) with { Tag = tag };

    private static Reply Interpret(OpKind kind, int status, string body, bool conditional)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return Reply.Unexpected($"{status} {body}");
            string? Field(string n) => root.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            return (kind, status, Field("result"), Field("error")) switch
            {
                (OpKind.Put, 201, "created", null) => new Reply(OpOutcome.Created),
                (OpKind.Put, 200, "replaced", null) => new Reply(OpOutcome.Replaced),
                (OpKind.Delete, 200, "deleted", null) => new Reply(OpOutcome.Deleted),
                (OpKind.Get, 200, "found", null) => new Reply(OpOutcome.Found, root.GetProperty("value").GetInt64()),
                (OpKind.Get or OpKind.Delete, 404, null, "Key does not exist") => new Reply(OpOutcome.NotFound),
                (OpKind.Put or OpKind.Delete, 412, null, not null) when conditional => new Reply(OpOutcome.PreconditionFailed),
                (_, 503, null, "Cannot forward request") => new Reply(OpOutcome.Unknown),
                (_, 503, null, "Store is unavailable") => new Reply(OpOutcome.Unknown), // a main over etcd: the outcome is etcd's to tell
                _ => Reply.Unexpected($"{kind} answered {status} {body}"),
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            return Reply.Unexpected($"{kind} answered {status} {body}");
        }
    }
}
