using System.Text.RegularExpressions;
using AotKvs.Configuration;
using AotKvs.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// Settings are declared once (Configuration/Settings.cs); the tables in the docs, the
/// checks and the help must say what the declarations say.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class SettingsTests
{
    /// <summary>The table row the docs must have for a setting.</summary>
    private static string Row(Setting s) =>
        $"| `{s.Flag}` | `{s.Variable}` | {s.Type} | {s.Default} | {s.Allowed} | {s.Meaning} |";

    private static string ExpectedTable() =>
        string.Join('\n', Settings.All.Select(Row));

    [Theory]
    [InlineData("docs/operations.md")]
    [InlineData("README.md")]
    public void Docs_settings_table_matches_the_declarations(string file)
    {
        var lines = File.ReadAllLines(Path.Combine(ServerProcess.RepoRoot, file));
        var section = Array.FindIndex(lines, l => l == "## Configuration");
        Assert.True(section >= 0, $"{file} has no '## Configuration' section");
        var rows = lines.Skip(section)
            .SkipWhile(l => !l.StartsWith("| flag |", StringComparison.Ordinal))
            .Skip(2)
            .TakeWhile(l => l.StartsWith('|'));
        var actual = string.Join('\n', rows);
        Assert.True(ExpectedTable() == actual,
            $"The settings table in {file} differs from Configuration/Settings.cs. It should read:\n\n" +
            "| flag | environment | type | default | allowed | meaning |\n| --- | --- | --- | --- | --- | --- |\n" + ExpectedTable() +
            "\n\nbut reads:\n\n" + actual);
    }

    [Fact]
    public void Docs_name_no_setting_that_is_not_declared()
    {
        // The test suite's and scripts' own variables, not the service's.
        var declared = Settings.All.Select(s => s.Variable).Concat(["KVS_MAIN_URL", "KVS_FORWARDER_URLS", "KVS_BLACKBOX", "KVS_FAULTS", "KVS_FAULTS_SECONDS", "KVS_HISTORY_FILE", "KVS_BINARY", "KVS_TRX_DIR", "KVS_FUZZ_SEED", "KVS_FUZZ_REPLAY", "KVS_FUZZ_SECONDS"]).ToHashSet();
        var files = Directory.GetFiles(Path.Combine(ServerProcess.RepoRoot, "docs"), "*.md")
            .Append(Path.Combine(ServerProcess.RepoRoot, "README.md"));
        foreach (var file in files)
            foreach (Match m in VariableName().Matches(File.ReadAllText(file)))
                Assert.True(declared.Contains(m.Value), $"{Path.GetFileName(file)} names {m.Value}, which Configuration/Settings.cs does not declare");
    }

    [GeneratedRegex(@"\bKVS_[A-Z_]+[A-Z]\b")]
    private static partial Regex VariableName();

    [Fact]
    public void Flags_and_variables_are_unique() =>
        Assert.Multiple(
            () => Assert.Equal(Settings.All.Length, Settings.All.Select(s => s.Flag).Distinct().Count()),
            () => Assert.Equal(Settings.All.Length, Settings.All.Select(s => s.Variable).Distinct().Count()));

    public static TheoryData<string> NumberSettings() =>
        new(Settings.All.OfType<NumberSetting>().Select(s => s.Variable));

    [Theory, MemberData(nameof(NumberSettings))]
    public void A_number_is_checked_against_its_declared_range(string variable)
    {
        var setting = Settings.All.OfType<NumberSetting>().Single(s => s.Variable == variable);
        var bounds = setting.Allowed.Split('–').Select(long.Parse).ToArray();
        Assert.Null(setting.ReadIfSet(Config(variable, null)));
        Assert.Equal(setting.Fallback, setting.Read(Config(variable, " ")));
        Assert.Equal(bounds[0], setting.Read(Config(variable, bounds[0].ToString())));
        Assert.Equal(bounds[1], setting.Read(Config(variable, bounds[1].ToString())));
        foreach (var bad in new[] { (bounds[0] - 1).ToString(), (bounds[1] + 1).ToString(), "12x", "-5", "1.5" })
        {
            var e = Assert.Throws<InvalidSettingException>(() => setting.Read(Config(variable, bad)));
            Assert.Equal($"{variable} '{bad}' must be a whole number from {bounds[0]} to {bounds[1]}", e.Message);
        }
    }

    [Fact]
    public void Load_reads_every_setting_through_its_declaration()
    {
        var options = ServiceOptions.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FORWARDING_ADDRESS"] = "10.10.0.2",
            ["KVS_PORT"] = "9001",
            ["KVS_FORWARD_TIMEOUT_MS"] = "250",
            ["KVS_READY_PROBE_MS"] = "20",
            ["KVS_MAX_BODY_BYTES"] = "1000",
            ["KVS_MAX_JSON_DEPTH"] = "7",
            ["KVS_MAX_CONNECTIONS"] = "9",
            ["KVS_MAX_WAIT_SECONDS"] = "45",
            ["KVS_MAX_WAITERS"] = "0",
            ["KVS_LOG_FORMAT"] = "JSON",
            ["KVS_LOG_LEVEL"] = "warn",
            ["KVS_INSTANCE"] = " kvs-7 ",
            ["KVS_ACCESS_LOG"] = "on",
        }).Build());
        Assert.Equal("10.10.0.2:8090", options.Forwarding?.Display);
        Assert.Equal(9001, options.Port);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.ForwardTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(20), options.ReadyProbeInterval);
        Assert.Equal(1000, options.MaxBodyBytes);
        Assert.Equal(7, options.MaxJsonDepth);
        Assert.Equal(9, options.MaxConnections);
        Assert.Equal(45, options.MaxWaitSeconds);
        Assert.Equal(0, options.MaxWaiters);
        Assert.Equal(new LogSettings(LogFormat.Json, LogLevel.Warning, "kvs-7", AccessLog: true), options.Logs);
    }

    [Fact]
    public void Unset_settings_take_their_declared_defaults()
    {
        var options = ServiceOptions.Load(new ConfigurationBuilder().Build());
        Assert.Null(options.Forwarding);
        Assert.Null(options.Port);
        Assert.Equal(Settings.ForwardTimeoutMs.Default, options.ForwardTimeout.TotalMilliseconds.ToString());
        Assert.Equal(Settings.ReadyProbeMs.Default, options.ReadyProbeInterval.TotalMilliseconds.ToString());
        Assert.Equal(Settings.MaxBodyBytes.Default, options.MaxBodyBytes.ToString());
        Assert.Equal(Settings.MaxJsonDepth.Default, options.MaxJsonDepth.ToString());
        Assert.Equal(Settings.MaxConnections.Default, options.MaxConnections.ToString());
        Assert.Equal(300, options.MaxWaitSeconds);
        Assert.Equal(8192, options.MaxWaiters);
        Assert.Equal(new LogSettings(LogFormat.Text, LogLevel.Information, Environment.MachineName, AccessLog: false), options.Logs);
    }

    [Theory]
    [InlineData("KVS_LOG_FORMAT", "xml", "KVS_LOG_FORMAT 'xml' must be one of text, json")]
    [InlineData("KVS_LOG_LEVEL", "loud", "KVS_LOG_LEVEL 'loud' must be one of trace, debug, information, info, warning, warn, error, critical, none")]
    [InlineData("KVS_ACCESS_LOG", "maybe", "KVS_ACCESS_LOG 'maybe' must be true or false")]
    [InlineData("FORWARDING_ADDRESS", "a b", "FORWARDING_ADDRESS 'a b' is not host:port")]
    public void A_bad_value_names_the_setting_and_what_it_accepts(string variable, string value, string message)
    {
        var e = Assert.Throws<InvalidSettingException>(() => ServiceOptions.Load(Config(variable, value)));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Help_shows_each_setting_as_declared()
    {
        foreach (var setting in Settings.All)
        {
            Assert.Contains($"{setting.Type}, default {setting.Default}", CommandLine.HelpText);
            Assert.Contains(setting.Meaning, CommandLine.HelpText);
            Assert.Contains("allowed: " + setting.Allowed, CommandLine.HelpText);
        }
    }

    private static IConfiguration Config(string name, string? value) =>
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [name] = value }).Build();
}
