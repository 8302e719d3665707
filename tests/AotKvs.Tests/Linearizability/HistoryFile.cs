using System.Text;
using System.Text.Json;

namespace AotKvs.Tests.Linearizability;

/// <summary>
/// A history as JSON lines, one operation a line, so a run recorded against any server can
/// be checked here:
/// <c>{"client": 3, "kind": "put", "key": "k", "value": 7, "invoke": 10, "complete": 25, "outcome": "created"}</c>.
/// kind: put, get, delete, or restart (main restarted; no key). outcome: created, replaced,
/// deleted, found (with the value read), notfound, preconditionfailed (a 412), or unknown (no
/// answer; complete null or left out). Optional: "if_match" and "if_none_match" (a write's
/// precondition, one tag or "*") and "tag" (the answer's ETag). Times are integers on one
/// clock. A malformed line is an error naming it.
/// </summary>
public static class HistoryFile
{
    public static List<Operation> Read(string path)
    {
        var history = new List<Operation>();
        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (line.Trim().Length == 0) continue;
            try
            {
                history.Add(Parse(line));
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
            {
                throw new InvalidDataException($"{path}:{number}: {e.Message}");
            }
        }
        return history;
    }

    public static void Write(string path, IEnumerable<Operation> history)
    {
        using var file = new StreamWriter(path, false, new UTF8Encoding(false));
        foreach (var op in history)
        {
            var complete = op.Complete == Operation.Never ? "null" : op.Complete.ToString();
            var tags = Optional("if_match", op.IfMatch) + Optional("if_none_match", op.IfNoneMatch) + Optional("tag", op.Tag);
            file.WriteLine($$"""{"client": {{op.Client}}, "kind": "{{(op.Kind == OpKind.Reset ? "restart" : op.Kind.ToString().ToLowerInvariant())}}", "key": "{{JsonEncodedText.Encode(op.Key)}}", "value": {{op.Value}}, "invoke": {{op.Invoke}}, "complete": {{complete}}, "outcome": "{{op.Outcome.ToString().ToLowerInvariant()}}"{{tags}}}""");
        }
    }

    private static string Optional(string name, string? text) => text is null ? "" : $", \"{name}\": \"{JsonEncodedText.Encode(text)}\"";

    private static string? Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var field) && field.ValueKind != JsonValueKind.Null ? field.GetString() : null;

    private static Operation Parse(string line)
    {
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new FormatException("a line must be a JSON object");
        var kind = root.GetProperty("kind").GetString() == "restart" ? OpKind.Reset : Name<OpKind>(root, "kind");
        var invoke = root.GetProperty("invoke").GetInt64();
        var complete = root.TryGetProperty("complete", out var c) && c.ValueKind != JsonValueKind.Null ? c.GetInt64() : Operation.Never;
        if (kind == OpKind.Reset)
            return Operation.Restart(invoke, complete);
        var outcome = Name<OpOutcome>(root, "outcome");
        if ((outcome == OpOutcome.Unknown) != (complete == Operation.Never))
            throw new FormatException("an operation completes if and only if it has an answer");
        if (complete < invoke)
            throw new FormatException("complete is before invoke");
        var key = root.GetProperty("key").GetString() ?? throw new FormatException("key is null");
        var value = root.TryGetProperty("value", out var v) ? v.GetInt64() : 0;
        var client = root.TryGetProperty("client", out var cl) ? cl.GetInt32() : 0;
        return new Operation(client, kind, key, value, invoke, complete, outcome, Text(root, "if_match"), Text(root, "if_none_match"), Text(root, "tag"));
    }

    private static T Name<T>(JsonElement root, string field) where T : struct, Enum
    {
        var text = root.GetProperty(field).GetString();
        return Enum.GetNames<T>().FirstOrDefault(n => string.Equals(n, text, StringComparison.OrdinalIgnoreCase)) is { } name
            && Enum.TryParse<T>(name, out var value)
            ? value
            : throw new FormatException($"{field} \"{text}\" is not one of: {string.Join(", ", Enum.GetNames<T>()).ToLowerInvariant()}");
    }
}
