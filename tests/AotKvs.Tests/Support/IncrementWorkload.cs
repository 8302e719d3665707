using System.Text.Json.Nodes;

namespace AotKvs.Tests.Support;

/// <summary>
/// The lost-update workload: clients each add 1 to one JSON counter by a GET, then a PUT of
/// the count plus one, until each has added its share. Conditional: the PUT carries If-Match
/// with the tag the GET gave (If-None-Match: * to create), and a 412 means "read again". A
/// write whose outcome is unknown (a 503, a dropped connection: main may have stored it) is
/// settled by reading again: every value lists the last writes that made it, so the client
/// sees whether its own took. The final count must then equal the writes that took; without
/// the precondition (the negative control) concurrent clients overwrite each other's.
/// </summary>
internal static class IncrementWorkload
{
    /// <summary>Writes named in each value: far more than can happen between a write and its settling read.</summary>
    private const int Remembered = 256;

    public sealed record Result(int Took, int Conflicts, int Unknown, int UnknownTook, int Final, IReadOnlyList<string> Problems)
    {
        public override string ToString() =>
            $"{Took} writes took ({UnknownTook} of {Unknown} unknown outcomes among them), {Conflicts} answered 412, final count {Final}; problems: {Problems.Count}";
    }

    /// <param name="target">Where a client's next request goes (main, a forwarder, a chain; it may change while mains restart).</param>
    /// <param name="key">The counter's key.</param>
    /// <param name="clients">Clients at once.</param>
    /// <param name="each">Increments each client makes (writes that took).</param>
    /// <param name="conditional">With If-Match / If-None-Match; without, the negative control.</param>
    /// <param name="bound">Gives up after this, whatever is left to do.</param>
    public static async Task<Result> RunAsync(Func<Random, Uri> target, string key, int clients, int each, bool conditional, TimeSpan bound)
    {
        var path = "/kvs/" + key;
        var problems = new List<string>();
        using var deadline = new CancellationTokenSource(bound);
        var results = await Task.WhenAll(Enumerable.Range(0, clients).Select(c =>
            Task.Run(() => ClientAsync(c, target, path, each, conditional, problems, deadline.Token))));
        var final = await ReadAsync(target(new Random(0)), path, settle: true, CancellationToken.None);
        return new Result(results.Sum(r => r.Took), results.Sum(r => r.Conflicts), results.Sum(r => r.Unknown), results.Sum(r => r.UnknownTook),
            final?.Count ?? 0, problems);
    }

    private sealed record ClientResult(int Took, int Conflicts, int Unknown, int UnknownTook);

    private sealed record Read(int Count, string? Tag, JsonArray Writes);

    private static async Task<ClientResult> ClientAsync(int client, Func<Random, Uri> target, string path, int each, bool conditional,
        List<string> problems, CancellationToken stop)
    {
        var random = new Random(client * 7919 + 1);
        int took = 0, conflicts = 0, unknown = 0, unknownTook = 0;
        for (var seq = 0; took < each && !stop.IsCancellationRequested; seq++)
        {
            var read = await ReadAsync(target(random), path, settle: true, stop);
            if (stop.IsCancellationRequested)
                break;
            var id = $"c{client}-{seq}";
            var writes = new JsonArray([.. (read?.Writes ?? []).Select(w => (JsonNode?)w!.GetValue<string>()).TakeLast(Remembered - 1), id]);
            var value = new JsonObject { ["n"] = (read?.Count ?? 0) + 1, ["writes"] = writes };
            (string, string)[] headers = !conditional ? []
                : read?.Tag is { } tag ? [("If-Match", tag)]
                : [("If-None-Match", "*")];
            int status;
            try
            {
                status = (await KvsHttp.SendAsync(target(random), "PUT", path, new JsonObject { ["value"] = value }.ToJsonString(),
                    headers: headers, cancel: stop)).Status;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
            {
                status = 0; // dropped, or main gone: outcome unknown
            }
            switch (status)
            {
                case 200 or 201:
                    took++;
                    break;
                case 412:
                    conflicts++;
                    break;
                case 503 or 0:
                    unknown++;
                    var after = await ReadAsync(target(random), path, settle: true, CancellationToken.None);
                    if (after is not null && after.Writes.Any(w => w!.GetValue<string>() == id))
                    {
                        took++;
                        unknownTook++;
                    }
                    break;
                default:
                    lock (problems)
                        problems.Add($"client {client}: PUT answered {status}");
                    break;
            }
        }
        return new ClientResult(took, conflicts, unknown, unknownTook);
    }

    /// <summary>The counter now: null when absent; with <paramref name="settle"/>, retried (bounded) until an instance answers 200 or 404.</summary>
    private static async Task<Read?> ReadAsync(Uri server, string path, bool settle, CancellationToken stop)
    {
        for (var attempt = 0; attempt < 300 && !stop.IsCancellationRequested; attempt++)
        {
            try
            {
                var answer = await KvsHttp.SendAsync(server, "GET", path, cancel: stop);
                if (answer.Status == 404)
                    return null;
                if (answer.Status == 200)
                {
                    var value = answer.Json!["value"]!;
                    return new Read(value["n"]!.GetValue<int>(), answer.Headers.ETag?.ToString(), value["writes"]!.AsArray());
                }
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
            {
            }
            if (!settle)
                break;
            await Task.Delay(50, CancellationToken.None);
        }
        return null;
    }
}
