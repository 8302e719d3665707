using System.Text.Json.Nodes;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Processes;

/// <summary>Log format, role and instance on every line, and the optional access log.</summary>
[Trait("Category", "Processes")]
public sealed class LoggingTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    [Fact]
    public void Text_lines_carry_role_and_instance()
    {
        using var main = ServerProcess.StartMain(env: ("KVS_INSTANCE", "alpha"));
        Assert.True(Poll.Until(() => main.Output.Contains("listening="), Bound), main.Output);
        var line = Lines(main).Single();
        Assert.Contains("role=main instance=alpha", line);
        Assert.StartsWith("20", line); // an ISO timestamp first
    }

    [Fact]
    public async Task Json_lines_are_one_object_each_with_role_and_instance()
    {
        using var main = ServerProcess.StartMain(env: [("KVS_LOG_FORMAT", "json"), ("KVS_INSTANCE", "beta")]);
        using var forwarder = ServerProcess.StartForwarder(main.Address, null, ("KVS_LOG_FORMAT", "json"));
        Assert.True(Poll.Until(() => main.Output.Contains("listening="), Bound), main.Output);
        // The forwarder logs start-up, then "Ready" once its probe reaches main.
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(Lines(forwarder).Length >= 2), Bound), forwarder.Output);

        foreach (var (server, role) in new[] { (main, "main"), (forwarder, "forwarding") })
            foreach (var line in Lines(server))
            {
                var entry = JsonNode.Parse(line)!;
                Assert.False(string.IsNullOrEmpty(entry["Message"]?.GetValue<string>()), line);
                var identity = entry["Scopes"]![0]!;
                Assert.Equal(role, identity["role"]!.GetValue<string>());
                Assert.False(string.IsNullOrEmpty(identity["instance"]!.GetValue<string>()));
            }
        Assert.Equal("beta", JsonNode.Parse(Lines(main)[0])!["Scopes"]![0]!["instance"]!.GetValue<string>());
    }

    [Fact]
    public async Task Access_log_is_off_by_default()
    {
        using var main = ServerProcess.StartMain();
        Assert.True(Poll.Until(() => main.Output.Contains("listening="), Bound), main.Output);
        for (var i = 0; i < 5; i++)
            await GetAsync(main.BaseUri, "/kvs/quiet");
        await Task.Delay(200); // a line would have been written by now; nothing to poll for when it must not appear
        Assert.Single(Lines(main));
    }

    [Fact]
    public async Task Access_log_writes_one_line_per_request_when_asked()
    {
        using var main = ServerProcess.StartMain(env: ("KVS_ACCESS_LOG", "true"));
        await GetAsync(main.BaseUri, "/kvs/loud?x=1");
        await PutValueAsync(main.BaseUri, "/kvs/loud", "1");
        Assert.True(Poll.Until(() => main.Output.Contains("PUT /kvs/loud 201"), Bound), main.Output);
        Assert.Contains("GET /kvs/loud?x=1 404", main.Output);
        Assert.Contains("role=main", Lines(main).First(l => l.Contains("PUT /kvs/loud")));
    }

    [Fact]
    public async Task Log_level_warning_hides_information_lines()
    {
        using var main = ServerProcess.StartMain(env: [("KVS_LOG_LEVEL", "warning"), ("KVS_ACCESS_LOG", "true")]);
        await GetAsync(main.BaseUri, "/kvs/hidden");
        await Task.Delay(200);
        Assert.Empty(Lines(main));
    }

    private static string[] Lines(ServerProcess server) =>
        server.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
