using System.Text.RegularExpressions;
using AotKvs.Tests.Support;
using Xunit;
using static AotKvs.Tests.Support.KvsHttp;

namespace AotKvs.Tests.Durability;

/// <summary>The published binary with --data-dir: restart, damaged logs, the lock, bad dirs, and the default that writes nothing.</summary>
[Trait("Category", "Durability")]
public sealed partial class DataDirTests
{
    private static async Task<long> MetricAsync(ServerProcess server, string name)
    {
        var text = (await GetAsync(server.BaseUri, "/metrics")).Body;
        var match = Regex.Match(text, $"^{name} (\\d+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"{name} is not in /metrics:\n{text}");
        return long.Parse(match.Groups[1].Value);
    }

    private static void Kill(ServerProcess server)
    {
        server.SendSignal("KILL");
        Assert.True(server.WaitForExit(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Acknowledged_changes_survive_SIGKILL_and_restart()
    {
        using var dir = new DataDir();
        using (var first = dir.StartMain())
        {
            (await PutValueAsync(first.BaseUri, "/kvs/a", "1")).ShouldBe(201, """{"result": "created"}""");
            (await PutValueAsync(first.BaseUri, "/kvs/b", """{"n": 1.50, "list": [true, null]}""")).ShouldBe(201, """{"result": "created"}""");
            (await PutValueAsync(first.BaseUri, "/kvs/b", """{"n": 2.50}""")).ShouldBe(200, """{"result": "replaced"}""");
            (await DeleteAsync(first.BaseUri, "/kvs/a")).ShouldBe(200, """{"result": "deleted"}""");
            Kill(first);
        }
        using var second = dir.StartMain();
        (await GetAsync(second.BaseUri, "/kvs/b")).ShouldBe(200, """{"result": "found", "value": {"n": 2.50}}""");
        (await GetAsync(second.BaseUri, "/kvs/a")).ShouldBe(404, """{"error": "Key does not exist"}""");
        Assert.Equal(4, await MetricAsync(second, "kvs_log_records_recovered"));
        Assert.Equal(1, await MetricAsync(second, "kvs_keys"));
        Assert.True(await MetricAsync(second, "kvs_log_bytes") > 0);
    }

    [Fact]
    public async Task SIGTERM_stops_at_once_and_lets_go_of_the_data_dir()
    {
        using var dir = new DataDir();
        using (var first = dir.StartMain())
        {
            (await PutValueAsync(first.BaseUri, "/kvs/k", "\"kept\"")).ShouldBe(201, """{"result": "created"}""");
            first.SendSignal("TERM");
            Assert.True(first.WaitForExit(TimeSpan.FromSeconds(3)), "main did not stop within 3 s of SIGTERM");
            Assert.Equal(0, first.ExitCode);
        }
        using var second = dir.StartMain(); // the lock is free again
        (await GetAsync(second.BaseUri, "/kvs/k")).ShouldBe(200, """{"result": "found", "value": "kept"}""");
    }

    [Fact]
    public async Task Without_a_data_dir_main_opens_no_file()
    {
        using var main = ServerProcess.StartMain();
        (await PutValueAsync(main.BaseUri, "/kvs/a", "1")).ShouldBe(201, """{"result": "created"}""");
        (await DeleteAsync(main.BaseUri, "/kvs/a")).ShouldBe(200, """{"result": "deleted"}""");
        var files = Directory.GetFiles($"/proc/{main.Pid}/fd")
            .Select(fd => new FileInfo(fd).LinkTarget ?? "")
            .Where(target => target.StartsWith('/') && !target.StartsWith("/dev/", StringComparison.Ordinal))
            .ToList();
        Assert.Empty(files);
        Assert.DoesNotContain("kvs_log_bytes", (await GetAsync(main.BaseUri, "/metrics")).Body);
    }

    [Fact]
    public async Task A_torn_tail_is_cut_at_start_up_logged_and_written_over()
    {
        using var dir = new DataDir();
        using (var first = dir.StartMain())
        {
            for (var i = 0; i < 10; i++)
                (await PutValueAsync(first.BaseUri, $"/kvs/k{i}", $"{i}")).ShouldBe(201, """{"result": "created"}""");
            Kill(first);
        }
        // What a crash halfway through a write leaves: the start of a record, cut short.
        byte[] torn = [0x11, 0x22, 0x33, 0x44, 0xff, 0, 0, 0, .. "{\"partial"u8];
        await File.AppendAllBytesAsync(dir.NewestLog, torn);

        using (var second = dir.StartMain())
        {
            for (var i = 0; i < 10; i++)
                (await GetAsync(second.BaseUri, $"/kvs/k{i}")).ShouldBe(200, $$"""{"result": "found", "value": {{i}}}""");
            Assert.Equal(17, await MetricAsync(second, "kvs_log_recovered_dropped_bytes"));
            Assert.Contains("17 bytes dropped", second.Output);
            (await PutValueAsync(second.BaseUri, "/kvs/after", "true")).ShouldBe(201, """{"result": "created"}""");
            Kill(second);
        }
        using var third = dir.StartMain();
        (await GetAsync(third.BaseUri, "/kvs/after")).ShouldBe(200, """{"result": "found", "value": true}""");
        Assert.Equal(0, await MetricAsync(third, "kvs_log_recovered_dropped_bytes"));
        Assert.Equal(11, await MetricAsync(third, "kvs_keys"));
    }

    [Fact]
    public async Task A_corrupt_record_in_the_middle_keeps_every_change_before_it()
    {
        using var dir = new DataDir();
        using (var first = dir.StartMain())
        {
            for (var i = 0; i < 10; i++) // one at a time: one record each, in this order
                (await PutValueAsync(first.BaseUri, $"/kvs/k{i}", $"{i}")).ShouldBe(201, """{"result": "created"}""");
            Kill(first);
        }
        // Each record: 8 bytes of header, kind, key length, 8 of version, "kN", "N": 21 bytes. Damage k5's value.
        var log = await File.ReadAllBytesAsync(dir.NewestLog);
        Assert.Equal(210, log.Length);
        log[5 * 21 + 20] ^= 0x01;
        await File.WriteAllBytesAsync(dir.NewestLog, log);

        using var second = dir.StartMain();
        for (var i = 0; i < 5; i++)
            (await GetAsync(second.BaseUri, $"/kvs/k{i}")).ShouldBe(200, $$"""{"result": "found", "value": {{i}}}""");
        for (var i = 5; i < 10; i++)
            (await GetAsync(second.BaseUri, $"/kvs/k{i}")).ShouldBe(404, """{"error": "Key does not exist"}""");
        Assert.Contains("torn or corrupt at byte 105", second.Output);
        Assert.Equal(105, await MetricAsync(second, "kvs_log_recovered_dropped_bytes"));
    }

    [Fact]
    public void A_second_main_on_the_same_data_dir_stops_with_one_line_and_exit_2()
    {
        using var dir = new DataDir();
        using var first = dir.StartMain();
        using var second = ServerProcess.Run([("KVS_DATA_DIR", dir.Path)], "--port", FreePort.Next().ToString());
        Assert.Equal(2, second.ExitCode);
        var line = Assert.Single(second.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("locked by another process", line);
        Assert.False(first.HasExited);
    }

    [Theory]
    [InlineData("a file")]
    [InlineData("under a file")]
    [InlineData("/proc/self")]
    public void A_data_dir_that_cannot_be_created_or_written_stops_start_up_with_one_line_and_exit_2(string kind)
    {
        var file = Path.GetTempFileName();
        try
        {
            var path = kind switch { "a file" => file, "under a file" => Path.Combine(file, "data"), _ => kind };
            using var run = ServerProcess.Run([("KVS_DATA_DIR", path)], "--port", FreePort.Next().ToString());
            Assert.Equal(2, run.ExitCode);
            var line = Assert.Single(run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains($"data dir {path}", line);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_forwarder_with_a_data_dir_stops_with_one_line_and_exit_2()
    {
        using var dir = new DataDir();
        using var run = ServerProcess.Run([("KVS_DATA_DIR", dir.Path), ("FORWARDING_ADDRESS", "127.0.0.1:9")], "--port", FreePort.Next().ToString());
        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("KVS_DATA_DIR", line);
        Assert.False(Directory.Exists(dir.Path));
    }

    [Fact]
    public void A_bad_sync_mode_stops_start_up_even_without_a_data_dir()
    {
        using var run = ServerProcess.Run([("KVS_SYNC", "sometimes")], "--port", FreePort.Next().ToString());
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("KVS_SYNC", run.Output);
    }
}
