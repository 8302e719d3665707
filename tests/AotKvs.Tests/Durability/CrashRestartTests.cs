using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Durability;

/// <summary>
/// SIGKILL while 8 clients write, then a restart on the same data dir: every key must hold
/// its last acknowledged value, or the value of the one request that was in flight on it.
/// The log is compacted every few KiB, so kills also land inside compactions. Quick form:
/// 3 kills; long form (KVS_FAULTS=long): 50.
/// </summary>
[Trait("Category", "Durability")]
public sealed class CrashRestartTests
{
    private const int Clients = 8;
    private const int KeysPerClient = 8;

    /// <summary>What one key may hold after a crash; null means absent.</summary>
    private sealed class KeyState
    {
        public string? Acknowledged;
        public bool InFlight;
        public string? InFlightValue;
    }

    [Theory]
    [InlineData("always")]
    [InlineData("periodic")]
    public async Task After_SIGKILL_under_8_writers_every_key_holds_its_last_acknowledged_or_in_flight_value(string sync)
    {
        using var dir = new DataDir();
        var keys = new KeyState[Clients, KeysPerClient];
        for (var c = 0; c < Clients; c++)
            for (var k = 0; k < KeysPerClient; k++)
                keys[c, k] = new KeyState();
        var kills = FaultProfile.Pick(3, 50);
        var report = new StringBuilder();
        long acknowledged = 0, compactions = 0;
        var random = new Random(20261128);

        for (var round = 0; round <= kills; round++)
        {
            using var main = dir.StartMain(("KVS_SYNC", sync), ("KVS_COMPACT_MIN_BYTES", "4096"));
            var wrong = await CheckAndAdoptAsync(main, keys);
            Assert.True(wrong.Count == 0, $"round {round}: {string.Join("; ", wrong)}\n{main.Output}");
            if (round == kills)
                break;

            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, Clients)
                .Select(c => Task.Run(() => WriteAsync(main.BaseUri, c, round, keys, stop.Token)))
                .ToArray();
            await Task.Delay(random.Next(300, 900));
            compactions += ReadCompactions(await GetAsync(main.BaseUri, "/metrics"));
            main.SendSignal("KILL");
            Assert.True(main.WaitForExit(TimeSpan.FromSeconds(10)));
            stop.Cancel();
            var counts = await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(30));
            acknowledged += counts.Sum();
            report.AppendLine($"round {round}: {counts.Sum()} acknowledged, snapshot.tmp left: {File.Exists(Path.Combine(dir.Path, "snapshot.tmp"))}, files: {string.Join(' ', Directory.GetFiles(dir.Path).Select(Path.GetFileName))}");
        }
        FaultProfile.Report($"durability-crash-{sync}", report.ToString());
        Assert.True(acknowledged > kills * 50, $"only {acknowledged} writes acknowledged:\n{report}");
        Assert.True(compactions > 0, $"no compaction ran before a kill:\n{report}");
    }

    /// <summary>Each client owns its keys and has at most one request in flight: PUT mostly, sometimes DELETE.</summary>
    private static async Task<int> WriteAsync(Uri server, int client, int round, KeyState[,] keys, CancellationToken stop)
    {
        var random = new Random(client * 1000 + round);
        var done = 0;
        for (var seq = 0; !stop.IsCancellationRequested && seq < 1_000_000; seq++)
        {
            var k = random.Next(KeysPerClient);
            var state = keys[client, k];
            var delete = random.Next(5) == 0;
            var value = delete ? null : $"\"c{client}-r{round}-s{seq}\"";
            state.InFlight = true;
            state.InFlightValue = value;
            KvsAnswer answer;
            try
            {
                answer = delete ? await DeleteAsync(server, $"/kvs/c{client}-{k}") : await PutValueAsync(server, $"/kvs/c{client}-{k}", value!);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return done; // killed: this request stays in flight
            }
            Assert.True(answer.Status is 200 or 201 or 404, $"unexpected {answer.Status} {answer.Body}");
            state.Acknowledged = value; // a PUT's value, or absent after DELETE (deleted or 404)
            state.InFlight = false;
            done++;
        }
        return done;
    }

    /// <summary>Reads every key back; returns what is wrong, and takes what it read as the new truth.</summary>
    private static async Task<List<string>> CheckAndAdoptAsync(ServerProcess main, KeyState[,] keys)
    {
        var wrong = new List<string>();
        for (var c = 0; c < Clients; c++)
            for (var k = 0; k < KeysPerClient; k++)
            {
                var state = keys[c, k];
                var answer = await GetAsync(main.BaseUri, $"/kvs/c{c}-{k}");
                var actual = answer.Status == 200 ? answer.Json!["value"]!.ToJsonString() : null;
                if (answer.Status is not (200 or 404))
                    wrong.Add($"c{c}-{k}: {answer.Status} {answer.Body}");
                else if (actual != Normal(state.Acknowledged) && !(state.InFlight && actual == Normal(state.InFlightValue)))
                    wrong.Add($"c{c}-{k}: holds {actual ?? "nothing"}, acknowledged {state.Acknowledged ?? "nothing"}, in flight {(state.InFlight ? state.InFlightValue ?? "DELETE" : "none")}");
                state.Acknowledged = actual;
                state.InFlight = false;
            }
        return wrong;
    }

    private static string? Normal(string? json) => json is null ? null : JsonNode.Parse(json)!.ToJsonString();

    private static long ReadCompactions(KvsAnswer metrics)
    {
        var line = metrics.Body.Split('\n').FirstOrDefault(l => l.StartsWith("kvs_log_compactions ", StringComparison.Ordinal));
        Debug.Assert(line is not null);
        return line is null ? 0 : long.Parse(line["kvs_log_compactions ".Length..]);
    }
}
