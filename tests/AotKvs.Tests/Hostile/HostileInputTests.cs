using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Hostile;

/// <summary>
/// The whole hostile corpus, over raw sockets, to main and through a forwarder: never a
/// 5xx, a crash or a hang; a JSON error or the HTTP layer's own refusal; and afterwards
/// both still serve and the sentinel data is untouched.
/// </summary>
[Trait("Category", "Faults")]
public sealed class HostileInputTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    [Fact]
    public void Corpus_has_at_least_200_distinct_cases()
    {
        Assert.True(HostileCorpus.All.Count >= 200, $"{HostileCorpus.All.Count} cases");
        Assert.Equal(HostileCorpus.All.Count, HostileCorpus.All.Select(c => c.ToString()).Distinct().Count());
        Assert.Equal(HostileCorpus.All.Count, HostileCorpus.All.Select(c => Convert.ToBase64String(c.Bytes)).Distinct().Count());
    }

    [Fact]
    public async Task Every_case_gets_a_clean_refusal_or_answer_and_the_data_survives()
    {
        var limit = ("KVS_MAX_BODY_BYTES", HostileCorpus.BodyLimit.ToString());
        using var main = ServerProcess.StartMain(null, limit);
        using var forwarder = ServerProcess.StartForwarder(main.Address, null, limit);
        var sentinels = Enumerable.Range(0, 5).ToDictionary(i => $"/kvs/sentinel-{i}", i => $"{{\"n\":{i},\"s\":\"é😀\"}}");
        foreach (var (path, value) in sentinels)
            (await PutValueAsync(main.BaseUri, path, value)).ShouldBe(201, """{"result": "created"}""");

        var problems = new ConcurrentQueue<string>();
        var byStatus = new ConcurrentDictionary<string, int>();
        var httpLayer = new ConcurrentQueue<string>();
        foreach (var (name, server) in new[] { ("main", main), ("forwarder", forwarder) })
        {
            await Parallel.ForEachAsync(HostileCorpus.All, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (c, _) =>
            {
                var outcome = await RawExchange.SendAsync(server.Port, [c.Bytes], Math.Max(1, c.Answers), Bound, bodiless: c.Name == "HEAD");
                foreach (var problem in Judge(c, outcome))
                    problems.Enqueue($"{name} {c}: {problem}");
                var status = outcome.Answers.Count == 0 ? "closed" : string.Join("+", outcome.Answers.Select(a => a.Status).Distinct());
                byStatus.AddOrUpdate($"{name} {status}", 1, (_, n) => n + 1);
                if (outcome.Answers.Count == 0 || outcome.Answers.Any(a => a.Status >= 400 && a.Body.Length == 0))
                    httpLayer.Enqueue($"{name} {c} -> {status}");
            });
        }

        Assert.False(main.HasExited, main.Output);
        Assert.False(forwarder.HasExited, forwarder.Output);
        foreach (var server in new[] { main, forwarder })
            foreach (var (path, value) in sentinels)
                (await GetAsync(server.BaseUri, path)).ShouldBe(200, $"{{\"result\": \"found\", \"value\": {value}}}");

        var report = new StringBuilder()
            .AppendLine($"cases: {HostileCorpus.All.Count} distinct, each to main and through a forwarder ({HostileCorpus.All.Count * 2} exchanges)")
            .AppendLine("outcomes by status:");
        foreach (var (key, count) in byStatus.OrderBy(p => p.Key))
            report.AppendLine($"  {key}: {count}");
        report.AppendLine($"answered by the HTTP layer itself (empty 4xx) or closed without an answer: {httpLayer.Count}");
        foreach (var line in httpLayer.OrderBy(l => l))
            report.AppendLine("  " + line);
        report.AppendLine($"problems: {problems.Count}");
        foreach (var problem in problems.OrderBy(p => p))
            report.AppendLine("  " + problem);
        output.WriteLine(FaultProfile.Report("hostile-input", report.ToString()));
        Assert.Empty(problems);
    }

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
        switch (c.Expect)
        {
            case Expect.Refused when first is not null && (first.Status < 400 || first.Status >= 500 && !IsAllowed5xx(first)):
                yield return $"expected a refusal, got {first.Status} {first.Text}";
                break;
            case Expect.Served when outcome.Answers.Count < c.Answers:
                yield return $"expected {c.Answers} answers, got {outcome.Answers.Count}";
                break;
            case Expect.Served when outcome.Answers.Any(a => a.Status is not (200 or 201 or 404)):
                yield return $"expected it served, got {string.Join(", ", outcome.Answers.Select(a => $"{a.Status} {a.Text}"))}";
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
