using System.Text.RegularExpressions;
using AotKvs.Configuration;
using AotKvs.Tests.Support;
using Microsoft.Extensions.Configuration;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The settings table (<see cref="CommandLine.Settings"/>) against the two things it must
/// agree with and is not generated from: the table in docs/operations.md, and the defaults
/// and names <see cref="ServiceOptions.Load"/> really uses.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class SettingsTableTests
{
    /// <summary>A value for each setting that differs from its default and is valid.</summary>
    private static readonly Dictionary<string, string> Samples = new()
    {
        ["KVS_PORT"] = "9001",
        ["FORWARDING_ADDRESS"] = "10.0.0.1:81",
        ["KVS_FORWARD_TIMEOUT_MS"] = "1234",
        ["KVS_READY_PROBE_MS"] = "2345",
        ["KVS_MAX_BODY_BYTES"] = "3456",
        ["KVS_MAX_JSON_DEPTH"] = "45",
        ["KVS_MAX_CONNECTIONS"] = "567",
        ["KVS_LOG_FORMAT"] = "json",
        ["KVS_LOG_LEVEL"] = "warning",
        ["KVS_INSTANCE"] = "sample-instance",
        ["KVS_ACCESS_LOG"] = "true",
    };

    [Fact]
    public void Docs_table_has_every_setting_with_its_flag_default_and_meaning_and_nothing_else()
    {
        var docs = File.ReadAllLines(Path.Combine(ServerProcess.RepoRoot, "docs", "operations.md"))
            .Select(line => DocsRow().Match(line))
            .Where(m => m.Success)
            .Select(m => $"{m.Groups["flag"].Value} {m.Groups["variable"].Value} {m.Groups["default"].Value.Trim()} | {m.Groups["meaning"].Value.Trim()}")
            .Where(row => !row.StartsWith("--urls ", StringComparison.Ordinal)) // ASP.NET Core's own, passed through
            .ToList();
        var table = CommandLine.Settings.Select(s => $"{s.Flag} {s.Variable} {s.Default} | {s.Meaning}").ToList();
        Assert.Equal(table, docs);
    }

    [Fact]
    public void Defaults_in_the_table_are_the_ones_the_service_uses()
    {
        var loaded = ServiceOptions.Load(Config([]));
        foreach (var setting in CommandLine.Settings)
            Assert.True(setting.Default == Effective(loaded, setting.Variable),
                $"{setting.Variable}: table says {setting.Default}, the service uses {Effective(loaded, setting.Variable)}");
    }

    [Fact]
    public void Every_variable_in_the_table_is_read_by_the_service()
    {
        var defaults = ServiceOptions.Load(Config([]));
        foreach (var setting in CommandLine.Settings)
        {
            Assert.True(Samples.ContainsKey(setting.Variable), $"no sample value for {setting.Variable}");
            var loaded = ServiceOptions.Load(Config([(setting.Variable, Samples[setting.Variable])]));
            Assert.Equal(Samples[setting.Variable], Effective(loaded, setting.Variable));
            // Only that setting moved.
            foreach (var other in CommandLine.Settings.Where(o => o.Variable != setting.Variable))
                Assert.Equal(Effective(defaults, other.Variable), Effective(loaded, other.Variable));
        }
    }

    [Fact]
    public void Every_flag_in_the_table_sets_its_variable()
    {
        foreach (var setting in CommandLine.Settings)
        {
            var command = CommandLine.Parse([setting.Flag, Samples[setting.Variable]]);
            Assert.Null(command.Problem);
            Assert.Equal([$"--{setting.Variable}={Samples[setting.Variable]}"], command.HostArgs);
        }
    }

    /// <summary>The setting's value as the service holds it, written as the table writes defaults.</summary>
    private static string Effective(ServiceOptions o, string variable) => variable switch
    {
        "KVS_PORT" => o.Port?.ToString() ?? ListenAddress.DefaultPort.ToString(),
        "FORWARDING_ADDRESS" => o.Forwarding?.ToString() ?? "(empty: main)",
        "KVS_FORWARD_TIMEOUT_MS" => ((long)o.ForwardTimeout.TotalMilliseconds).ToString(),
        "KVS_READY_PROBE_MS" => ((long)o.ReadyProbeInterval.TotalMilliseconds).ToString(),
        "KVS_MAX_BODY_BYTES" => o.MaxBodyBytes.ToString(),
        "KVS_MAX_JSON_DEPTH" => o.MaxJsonDepth.ToString(),
        "KVS_MAX_CONNECTIONS" => o.MaxConnections.ToString(),
        "KVS_LOG_FORMAT" => o.Logs.Format.ToString().ToLowerInvariant(),
        "KVS_LOG_LEVEL" => o.Logs.Level.ToString().ToLowerInvariant(),
        "KVS_INSTANCE" => o.Logs.Instance == Environment.MachineName ? "(host name)" : o.Logs.Instance,
        "KVS_ACCESS_LOG" => o.Logs.AccessLog ? "true" : "false",
        _ => throw new ArgumentException($"a setting this test does not know: {variable}"),
    };

    private static IConfiguration Config((string Name, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Name, v.Value))).Build();

    [Fact]
    public void Help_prints_every_row_of_the_docs_table()
    {
        var help = CommandLine.HelpText.Split('\n').Select(l => l.Trim()).ToList();
        foreach (var row in DocsRows().Where(r => r.Flag != "--urls"))
        {
            var at = help.FindIndex(l => l.StartsWith(row.Flag + " ", StringComparison.Ordinal));
            Assert.True(at >= 0, $"{row.Flag} is not in --help");
            Assert.Equal($"{row.Flag} {row.Variable} default {row.Default}", string.Join(' ', help[at].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
            Assert.Equal(row.Meaning, help[at + 1]);
        }
    }

    private static IEnumerable<(string Flag, string Variable, string Default, string Meaning)> DocsRows() =>
        File.ReadAllLines(Path.Combine(ServerProcess.RepoRoot, "docs", "operations.md"))
            .Select(line => DocsRow().Match(line))
            .Where(m => m.Success)
            .Select(m => (m.Groups["flag"].Value, m.Groups["variable"].Value, m.Groups["default"].Value.Trim(), m.Groups["meaning"].Value.Trim()));

    [GeneratedRegex(@"^\| `(?<flag>--[a-z-]+)` \| `(?<variable>[A-Z_]+)` \| (?<default>[^|]*) \| (?<meaning>[^|]*) \|")]
    private static partial Regex DocsRow();
}
