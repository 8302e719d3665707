using AotKvs.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace AotKvs.Tests.Durability;

/// <summary>
/// The lost-update test on the write-ahead log: 16 clients each add 1 to one counter 200
/// times with If-Match, while main is SIGKILLed and restarted on the same data dir. Tags
/// outlive the restarts (the log keeps versions), so a client that read before a kill may
/// write after it; an answer lost to the kill is settled by reading again. Every increment
/// must be counted exactly once.
/// </summary>
[Trait("Category", "Durability")]
public sealed class ConditionalWritesAcrossKillsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Conditional_increments_lose_nothing_while_main_is_killed_and_restarted()
    {
        using var dir = new DataDir();
        var port = FreePort.Next();
        (string, string)[] env = [("KVS_DATA_DIR", dir.Path), ("KVS_SYNC", "always")];
        var main = ServerProcess.StartMain(port, env);
        var kills = 0;
        using var done = new CancellationTokenSource();
        var nemesis = Task.Run(async () =>
        {
            var random = new Random(25);
            while (kills < 5 && !done.IsCancellationRequested)
            {
                await Task.Delay(random.Next(400, 1200), CancellationToken.None);
                if (done.IsCancellationRequested)
                    break;
                main.Kill();
                main.Dispose();
                main = ServerProcess.StartMain(port, env);
                kills++;
            }
        });
        try
        {
            var result = await IncrementWorkload.RunAsync(_ => main.BaseUri, "counter", clients: 16, each: 200, conditional: true,
                bound: TimeSpan.FromMinutes(4));
            done.Cancel();
            await nemesis.WaitAsync(TimeSpan.FromSeconds(30));
            output.WriteLine($"{kills} kills: {result}");
            Assert.Empty(result.Problems);
            Assert.Equal(16 * 200, result.Took);
            Assert.Equal(result.Took, result.Final);
            Assert.True(kills > 0, "main was never killed while clients wrote");
        }
        finally
        {
            done.Cancel();
            main.Dispose();
        }
    }
}
