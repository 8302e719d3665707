using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Faults;

/// <summary>
/// The whole hostile corpus, over raw sockets, to main and through a forwarder (each in
/// front of a store of its own): never a 5xx, a crash or a hang; a JSON error or the HTTP
/// layer's own refusal; and each case changes nothing but its own key. After every case
/// its key is read back (absent unless an accepted PUT wrote it, then holding the value
/// sent) and the store's key count (kvs_keys in /metrics) is compared with what the cases
/// so far may have written, so a refused request that wrote anything, anywhere, is caught.
/// </summary>
[Trait("Category", "Faults")]
public sealed class HostileInputTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);
    private static readonly JsonDocumentOptions Deep = new() { MaxDepth = 1024 };

    [Fact]
    public async Task Every_case_gets_a_clean_refusal_or_answer_and_changes_only_its_own_key()
    {
        // The corpus itself: enough cases, none twice (a guard on this test's data).
        Assert.True(HostileCorpus.All.Count >= 200, $"{HostileCorpus.All.Count} cases");
        Assert.Equal(HostileCorpus.All.Count, HostileCorpus.All.Select(c => Convert.ToBase64String(c.Bytes)).Distinct().Count());

        var limit = ("KVS_MAX_BODY_BYTES", HostileCorpus.BodyLimit.ToString());
        using var main = ServerProcess.StartMain(null, limit);
        using var store = ServerProcess.StartMain(null, limit);
        using var forwarder = ServerProcess.StartForwarder(store.Address, null, limit);

        // The two runs share nothing, so they go side by side; each runs its cases in order.
        var runs = await Task.WhenAll(RunAsync("main", main, main), RunAsync("forwarder", forwarder, store));

        Assert.False(main.HasExited, main.Output);
        Assert.False(store.HasExited, store.Output);
        Assert.False(forwarder.HasExited, forwarder.Output);

        var report = new StringBuilder()
            .AppendLine($"cases: {HostileCorpus.All.Count} distinct, each to main and through a forwarder ({HostileCorpus.All.Count * 2} exchanges)")
            .AppendLine($"read back after a case: {runs.Sum(r => r.ReadBacks)}; key counts compared: {runs.Sum(r => r.Counts)}; keys written by accepted PUTs: {string.Join(", ", runs.Select(r => $"{r.Name} {r.Written}"))}")
            .AppendLine("outcomes by status:");
        foreach (var (key, count) in runs.SelectMany(r => r.ByStatus).OrderBy(p => p.Key))
            report.AppendLine($"  {key}: {count}");
        var httpLayer = runs.SelectMany(r => r.HttpLayer).ToList();
        report.AppendLine($"answered by the HTTP layer itself (empty 4xx) or closed without an answer: {httpLayer.Count}");
        foreach (var line in httpLayer)
            report.AppendLine("  " + line);
        var problems = runs.SelectMany(r => r.Problems).ToList();
        report.AppendLine($"problems: {problems.Count}");
        foreach (var problem in problems)
            report.AppendLine("  " + problem);
        output.WriteLine(FaultProfile.Report("hostile-input", report.ToString()));
        Assert.Empty(problems);
    }

    private sealed record Run(string Name, List<string> Problems, Dictionary<string, int> ByStatus, List<string> HttpLayer, int ReadBacks, int Counts, int Written);

    private static async Task<Run> RunAsync(string name, ServerProcess server, ServerProcess store)
    {
        var problems = new List<string>();
        var byStatus = new Dictionary<string, int>();
        var httpLayer = new List<string>();
        var sentinels = Enumerable.Range(0, 5).ToDictionary(i => $"/kvs/sentinel-{i}", i => $"{{\"n\":{i},\"s\":\"é😀\"}}");
        foreach (var (path, value) in sentinels)
            (await PutValueAsync(store.BaseUri, path, value)).ShouldBe(201, Expected.Created);
        long keys = sentinels.Count;
        Assert.Equal(keys, await KeyCountAsync(store));
        int readBacks = 0, counts = 0, written = 0;

        foreach (var c in HostileCorpus.All)
        {
            var outcome = await RawExchange.SendAsync(server.Port, [c.Bytes], Math.Max(1, c.Answers), Bound, bodiless: c.Name == "HEAD");
            problems.AddRange(Judge(c, outcome).Select(p => $"{name} {c}: {p}"));
            var status = outcome.Answers.Count == 0 ? "closed" : string.Join("+", outcome.Answers.Select(a => a.Status).Distinct());
            byStatus[$"{name} {status}"] = byStatus.GetValueOrDefault($"{name} {status}") + 1;
            if (outcome.Answers.Count == 0 || outcome.Answers.Any(a => a.Status >= 400 && a.Body.Length == 0))
                httpLayer.Add($"{name} {c} -> {status}");

            var wrote = c.Writes && outcome.Answers.FirstOrDefault()?.Status == 201;
            if (wrote)
            {
                keys++;
                written++;
            }
            if (c.Key is not null)
            {
                readBacks++;
                if (await ReadBackProblemAsync(store, c, wrote) is { } problem)
                    problems.Add($"{name} {c}: {problem}");
            }
            counts++;
            var count = await KeyCountAsync(store);
            if (count != keys)
            {
                problems.Add($"{name} {c}: the store holds {count} keys, {keys} expected");
                keys = count; // one report per case that changed the count, not one for every case after it
            }
        }

        foreach (var (path, value) in sentinels)
            (await GetAsync(store.BaseUri, path)).ShouldBe(200, $"{{\"result\": \"found\", \"value\": {value}}}");
        return new Run(name, problems, byStatus, httpLayer, readBacks, counts, written);
    }

    /// <summary>
    /// Reads the case's key from the store with the same target the case used: absent unless
    /// the case's PUT was accepted, and then holding what it sent.
    /// </summary>
    private static async Task<string?> ReadBackProblemAsync(ServerProcess store, HostileCase c, bool wrote)
    {
        var read = await RawExchange.SendAsync(store.Port, [Encoding.Latin1.GetBytes($"GET /kvs/{c.Key} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")], 1, Bound);
        if (read.Answers.FirstOrDefault() is not { } answer)
            return "its key could not be read back";
        if (!wrote)
            return answer.Status == 404 ? null : $"changed its key although not accepted: read back {answer.Status} {Shorten(answer.Text)}";
        if (answer.Status != 200)
            return $"accepted, but reading its key back gave {answer.Status} {Shorten(answer.Text)}";
        var found = JsonNode.Parse(answer.Body, documentOptions: Deep)!["value"];
        if (c.Value is not null && !JsonNode.DeepEquals(JsonNode.Parse(c.Value, documentOptions: Deep), found))
            return $"stored {Shorten(found?.ToJsonString() ?? "null")}, sent {Shorten(c.Value)}";
        return null;
    }

    private static async Task<long> KeyCountAsync(ServerProcess store)
    {
        var metrics = await GetAsync(store.BaseUri, "/metrics");
        var line = metrics.Body.Split('\n').Single(l => l.StartsWith("kvs_keys ", StringComparison.Ordinal));
        return long.Parse(line["kvs_keys ".Length..]);
    }

    private static string Shorten(string text) => text.Length > 80 ? text[..80] + $"...({text.Length} chars)" : text;

    private static IEnumerable<string> Judge(HostileCase c, WireOutcome outcome)
    {
        if (outcome.TimedOut && outcome.Answers.Count < Math.Max(1, c.Answers))
            yield return $"no answer and no close within {Bound.TotalSeconds} s";
        foreach (var answer in outcome.Answers)
        {
            if (answer.Status >= 500 && !IsAllowed5xx(answer))
                yield return $"{answer.Status} {answer.Text}";
            if (answer.Body.Length > 0 && JsonProblem(answer) is { } problem)
                yield return problem;
        }
        var first = outcome.Answers.FirstOrDefault();
        var statuses = outcome.Answers.Select(a => a.Status).ToArray();
        var refused = outcome.Answers.Any(a => a.Status >= 400);
        switch (c.Expect)
        {
            case Expect.Refused when first is not null && (first.Status < 400 || first.Status >= 500 && !IsAllowed5xx(first)):
                yield return $"expected a refusal, got {first.Status} {first.Text}";
                break;
            case Expect.Served when !statuses.SequenceEqual(c.Served):
                yield return $"expected it served ({string.Join(", ", c.Served)}), got {string.Join(", ", outcome.Answers.Select(a => $"{a.Status} {Shorten(a.Text)}"))}";
                break;
            // Either: a refusal, or exactly the answers a served case gets.
            case Expect.Either when !refused && statuses.Length > 0 && !statuses.SequenceEqual(c.Served.Take(statuses.Length)):
                yield return $"served, but not as expected ({string.Join(", ", c.Served)}): {string.Join(", ", statuses)}";
                break;
        }
    }

    /// <summary>
    /// Two refusals in the 5xx range are right: Kestrel's own empty 505 for a request line
    /// with an HTTP version it does not speak, and a forwarder's 508 for a request that has
    /// made too many hops.
    /// </summary>
    private static bool IsAllowed5xx(WireAnswer answer) =>
        answer.Status == 505 && answer.Body.Length == 0
        || answer.Status == 508 && answer.Text.Contains("Forwarding loop detected", StringComparison.Ordinal);

    private static string? JsonProblem(WireAnswer answer)
    {
        if (answer.ContentType != "application/json")
            return $"{answer.Status} with Content-Type {answer.ContentType}";
        try
        {
            using var json = JsonDocument.Parse(answer.Body);
            if (answer.Status >= 400 && !(json.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String))
                return $"{answer.Status} without a JSON error: {answer.Text}";
            return null;
        }
        catch (JsonException)
        {
            return $"{answer.Status} with a body that is not JSON: {answer.Text}";
        }
    }
}
