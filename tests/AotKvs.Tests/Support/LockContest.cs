using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Support;

/// <summary>
/// The lock recipe of docs/api.md section 8 as 8 contenders run it over the given targets:
/// take with a create-only PUT with a lifetime, renew with If-Match, release with a
/// conditional DELETE, wait with Prefer: wait on the holder's tag. Holders do unprotected
/// read-then-write increments of a counter, so two holders at once would lose increments;
/// some holders vanish without releasing. With <c>createOnly</c> false the lock is taken with
/// a plain PUT: the negative control.
/// </summary>
public static class LockContest
{
    public const int Contenders = 8;
    public const int TtlSeconds = 3;

    public sealed record Term(int Contender, string Tag, TimeSpan Start);

    public sealed record Run(int Increments, int Counter, int LostLocks, List<Term> Terms, List<TimeSpan> FreedAfter, List<TimeSpan> WokeAfter);

    public static ulong VersionOf(string tag) => Convert.ToUInt64(tag.Trim('"')[(tag.Trim('"').LastIndexOf('-') + 1)..], 16);

    private static string? Tag(KvsAnswer answer) => answer.Headers.TryGetValues("ETag", out var values) ? values.Single() : null;

    /// <summary>Contender i uses <paramref name="targets"/>[i % count]; the counter is read back through the first.</summary>
    public static async Task<Run> RunAsync(IReadOnlyList<Uri> targets, bool createOnly, int acquisitionsEach, int vanishings)
    {
        var lockPath = "/kvs/" + UniqueKey("lock");
        var counterPath = "/kvs/" + UniqueKey("counter");
        (await PutValueAsync(targets[0], counterPath, "0")).ShouldBe(201, """{"result": "created"}""");
        var clock = Stopwatch.StartNew();
        var increments = 0;
        var lostLocks = 0;
        var vanishLeft = vanishings;
        var terms = new ConcurrentBag<Term>();
        var freedAfter = new ConcurrentBag<TimeSpan>();
        var wokeAfter = new ConcurrentBag<TimeSpan>();
        long releasedAt = -1, vanishedDeadline = -1; // clock ticks in ms of the last release / a vanished holder's deadline
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));

        async Task ContendAsync(int id)
        {
            var server = targets[id % targets.Count];
            var random = new Random(id);
            for (var taken = 0; taken < acquisitionsEach && !stop.IsCancellationRequested;)
            {
                (string, string)[] take = createOnly ? [("If-None-Match", "*"), ("Kvs-Ttl", $"{TtlSeconds}")] : [("Kvs-Ttl", $"{TtlSeconds}")];
                var put = await SendAsync(server, "PUT", lockPath, $$"""{"value": {{id}}}""", headers: take, cancel: stop.Token);
                if (put.Status is 200 or 201)
                {
                    taken++;
                    var tag = Tag(put)!;
                    var start = clock.Elapsed;
                    var vanished = Interlocked.Read(ref vanishedDeadline);
                    if (vanished > 0 && Interlocked.CompareExchange(ref vanishedDeadline, -1, vanished) == vanished)
                        freedAfter.Add(start - TimeSpan.FromMilliseconds(vanished));
                    terms.Add(new Term(id, tag, start));
                    for (var step = 0; step < 3; step++)
                    {
                        var read = await GetAsync(server, counterPath);
                        var value = (int)read.Json!["value"]!;
                        await Task.Delay(random.Next(1, 5));
                        (await PutValueAsync(server, counterPath, $"{value + 1}")).ShouldBe(200, """{"result": "replaced"}""");
                        Interlocked.Increment(ref increments);
                        if (!createOnly)
                            continue;
                        var renewed = await SendAsync(server, "PUT", lockPath, $$"""{"value": {{id}}}""",
                            headers: [("If-Match", tag), ("Kvs-Ttl", $"{TtlSeconds}")]);
                        if (renewed.Status != 200)
                        {
                            Interlocked.Increment(ref lostLocks);
                            break;
                        }
                        tag = Tag(renewed)!;
                    }
                    if (createOnly && Interlocked.Decrement(ref vanishLeft) >= 0)
                    {
                        // Vanish: no release; the lock must come free at its deadline.
                        Interlocked.Exchange(ref vanishedDeadline, (long)(clock.Elapsed + TimeSpan.FromSeconds(TtlSeconds)).TotalMilliseconds);
                        continue;
                    }
                    if (createOnly)
                    {
                        (await SendAsync(server, "DELETE", lockPath, headers: [("If-Match", tag)])).ShouldBe(200, """{"result": "deleted"}""");
                        Interlocked.Exchange(ref releasedAt, (long)clock.Elapsed.TotalMilliseconds);
                    }
                    continue;
                }
                Assert.Equal(412, put.Status);
                // Held: wait on the holder's tag until it changes (a renewal, a release or the deadline).
                var waited = await SendAsync(server, "GET", lockPath, headers: [("If-None-Match", Tag(put)!), ("Prefer", "wait=10")], cancel: stop.Token);
                if (waited.Status == 404 && Interlocked.Exchange(ref releasedAt, -1) is var released and >= 0)
                    wokeAfter.Add(clock.Elapsed - TimeSpan.FromMilliseconds(released));
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Contenders).Select(id => Task.Run(() => ContendAsync(id))));
        var counter = (int)(await GetAsync(targets[0], counterPath)).Json!["value"]!;
        return new Run(increments, counter, lostLocks, [.. terms], [.. freedAfter], [.. wokeAfter]);
    }
}
