using System.Collections.Concurrent;
using System.Diagnostics;
using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.BlackBox;

/// <summary>
/// The lock recipe of docs/api.md section 8, run by 8 contenders spread over every target
/// (main, forwarders, chains): take with a create-only PUT with a lifetime, renew with
/// If-Match, release with a conditional DELETE, wait with Prefer: wait on the holder's tag.
/// Holders do unprotected read-then-write increments of a counter, so two holders at once
/// would lose increments; some holders vanish without releasing, and their lock must come
/// free by its deadline. The negative control takes the lock with a plain PUT and loses
/// increments.
/// </summary>
[Collection(ClusterCollection.Name), Trait("Category", "BlackBox")]
public sealed class LockRecipeTests(Cluster cluster, ITestOutputHelper output)
{
    private const int Contenders = 8;
    private const int TtlSeconds = 3;
    private static readonly TimeSpan FreeWithin = TimeSpan.FromSeconds(TtlSeconds + 3);

    private static string? Tag(KvsAnswer answer) => answer.Headers.TryGetValues("ETag", out var values) ? values.Single() : null;

    private static ulong VersionOf(string tag) => Convert.ToUInt64(tag.Trim('"')[(tag.Trim('"').LastIndexOf('-') + 1)..], 16);

    [Fact]
    public async Task One_holder_at_a_time_a_vanished_holder_frees_the_lock_by_its_deadline()
    {
        var run = await RunAsync(createOnly: true, acquisitionsEach: 4, vanishings: 3);

        output.WriteLine($"{run.Increments} increments, counter {run.Counter}; {run.Terms.Count} terms; lock free after a vanished holder within {run.FreedAfter.DefaultIfEmpty().Max().TotalMilliseconds:F0} ms of its deadline");
        output.WriteLine($"waiter woke after a release: {string.Join(", ", run.WokeAfter.Select(t => $"{t.TotalMilliseconds:F1}"))} ms");
        Assert.Equal(run.Increments, run.Counter); // no two holders at once
        Assert.Equal(0, run.LostLocks);
        // Fencing: every term's tag is newer than the one before it, whoever held it.
        var versions = run.Terms.OrderBy(t => t.Start).Select(t => VersionOf(t.Tag)).ToList();
        Assert.Equal(versions.Order(), versions);
        Assert.Equal(3, run.FreedAfter.Count);
        Assert.All(run.FreedAfter, after => Assert.True(after < FreeWithin - TimeSpan.FromSeconds(TtlSeconds), $"free {after} after the deadline"));
        Assert.NotEmpty(run.WokeAfter);
    }

    [Fact]
    public async Task Negative_control_a_lock_taken_with_a_plain_put_lets_holders_overlap()
    {
        var run = await RunAsync(createOnly: false, acquisitionsEach: 4, vanishings: 0);
        output.WriteLine($"plain PUT as a lock: {run.Increments} increments, counter {run.Counter}: {run.Increments - run.Counter} lost");
        Assert.True(run.Counter < run.Increments, "holders never overlapped: the control shows nothing");
    }

    private sealed record Term(int Contender, string Tag, TimeSpan Start);

    private sealed record Run(int Increments, int Counter, int LostLocks, List<Term> Terms, List<TimeSpan> FreedAfter, List<TimeSpan> WokeAfter);

    private async Task<Run> RunAsync(bool createOnly, int acquisitionsEach, int vanishings)
    {
        var names = Cluster.TargetNames;
        var lockPath = "/kvs/" + UniqueKey("lock");
        var counterPath = "/kvs/" + UniqueKey("counter");
        (await PutValueAsync(cluster["main"], counterPath, "0")).ShouldBe(201, """{"result": "created"}""");
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
            var server = cluster[names[id % names.Count]];
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
        var counter = (int)(await GetAsync(cluster["main"], counterPath)).Json!["value"]!;
        return new Run(increments, counter, lostLocks, [.. terms], [.. freedAfter], [.. wokeAfter]);
    }
}
