using AotKvs.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>How each setting's text is read: what is accepted, the edges of each range, and the one message a bad value gets.</summary>
[Trait("Category", "Unit")]
public sealed class SettingsParsingTests
{
    [Theory]
    [InlineData("text", "Text")]
    [InlineData("json", "Json")]
    [InlineData(" JSON ", "Json")]
    public void Log_format_words(string text, string expected) =>
        Assert.Equal(expected, Logs(("KVS_LOG_FORMAT", text)).Format.ToString());

    [Theory]
    [InlineData("trace", LogLevel.Trace)]
    [InlineData("debug", LogLevel.Debug)]
    [InlineData("information", LogLevel.Information)]
    [InlineData("info", LogLevel.Information)]
    [InlineData("warning", LogLevel.Warning)]
    [InlineData("warn", LogLevel.Warning)]
    [InlineData("error", LogLevel.Error)]
    [InlineData("critical", LogLevel.Critical)]
    [InlineData("none", LogLevel.None)]
    [InlineData("Warning", LogLevel.Warning)]
    public void Log_level_words(string text, LogLevel expected) =>
        Assert.Equal(expected, Logs(("KVS_LOG_LEVEL", text)).Level);

    [Theory]
    [InlineData("true", true)]
    [InlineData("1", true)]
    [InlineData("yes", true)]
    [InlineData("on", true)]
    [InlineData("TRUE", true)]
    [InlineData("false", false)]
    [InlineData("0", false)]
    [InlineData("no", false)]
    [InlineData("off", false)]
    public void Access_log_words(string text, bool expected) =>
        Assert.Equal(expected, Logs(("KVS_ACCESS_LOG", text)).AccessLog);

    [Theory]
    [InlineData("KVS_LOG_FORMAT", "xml", "KVS_LOG_FORMAT 'xml' must be one of text, json")]
    [InlineData("KVS_LOG_LEVEL", "loud", "KVS_LOG_LEVEL 'loud' must be one of trace, debug, information, info, warning, warn, error, critical, none")]
    [InlineData("KVS_ACCESS_LOG", "maybe", "KVS_ACCESS_LOG 'maybe' must be true or false")]
    public void Bad_log_setting_names_itself_and_what_it_takes(string name, string value, string message) =>
        Assert.Equal(message, Assert.Throws<InvalidSettingException>(() => Logs((name, value))).Message);

    [Fact]
    public void Instance_is_trimmed_and_defaults_to_the_host_name()
    {
        Assert.Equal("kvs-7", Logs(("KVS_INSTANCE", "  kvs-7 ")).Instance);
        Assert.Equal(Environment.MachineName, Logs(("KVS_INSTANCE", "   ")).Instance);
        Assert.Equal(Environment.MachineName, Logs().Instance);
    }

    [Fact]
    public void Blank_log_settings_are_the_defaults()
    {
        var logs = Logs(("KVS_LOG_FORMAT", " "), ("KVS_LOG_LEVEL", ""), ("KVS_ACCESS_LOG", " "));
        Assert.Equal(new LogSettings(LogFormat.Text, LogLevel.Information, Environment.MachineName, false), logs);
    }

    [Theory]
    [InlineData("1", 1)]
    [InlineData("600000", 600_000)]
    [InlineData("0", null)]
    [InlineData("600001", null)]
    [InlineData("+5", null)]
    [InlineData("5.0", null)]
    [InlineData("-1", null)]
    [InlineData("1e3", null)]
    [InlineData("99999999999", null)]
    public void Whole_numbers_within_the_range_ends_inclusive(string text, int? expected)
    {
        var config = Config(("KVS_FORWARD_TIMEOUT_MS", text));
        if (expected is { } value)
            Assert.Equal(value, Settings.ForwardTimeoutMs.Read(config));
        else
            Assert.Equal($"KVS_FORWARD_TIMEOUT_MS '{text}' must be a whole number from 1 to 600000",
                Assert.Throws<InvalidSettingException>(() => Settings.ForwardTimeoutMs.Read(config)).Message);
    }

    [Theory]
    [InlineData("KVS_PORT", "0")]
    [InlineData("KVS_PORT", "65536")]
    [InlineData("KVS_FORWARD_TIMEOUT_MS", "0")]
    [InlineData("KVS_READY_PROBE_MS", "9")]
    [InlineData("KVS_READY_PROBE_MS", "3600001")]
    [InlineData("KVS_MAX_BODY_BYTES", "0")]
    [InlineData("KVS_MAX_JSON_DEPTH", "0")]
    [InlineData("KVS_MAX_JSON_DEPTH", "100001")]
    [InlineData("KVS_MAX_CONNECTIONS", "0")]
    [InlineData("KVS_MAX_CONNECTIONS", "1000001")]
    public void Each_number_setting_has_its_documented_range(string name, string outside)
    {
        var e = Assert.Throws<InvalidSettingException>(() => ServiceOptions.Load(Config((name, outside))));
        Assert.StartsWith($"{name} '{outside}' must be a whole number from ", e.Message);
    }

    [Theory]
    [InlineData("KVS_PORT", "65535")]
    [InlineData("KVS_PORT", "1")]
    [InlineData("KVS_READY_PROBE_MS", "10")]
    [InlineData("KVS_READY_PROBE_MS", "3600000")]
    [InlineData("KVS_MAX_BODY_BYTES", "2147483647")]
    [InlineData("KVS_MAX_JSON_DEPTH", "100000")]
    [InlineData("KVS_MAX_CONNECTIONS", "1000000")]
    public void Range_ends_are_accepted(string name, string edge) =>
        ServiceOptions.Load(Config((name, edge)));

    [Fact]
    public void Forwarding_address_sets_the_role()
    {
        var main = ServiceOptions.Load(Config(("FORWARDING_ADDRESS", "  ")));
        Assert.False(main.IsForwarding);
        Assert.Equal("main", main.Role);
        var forwarder = ServiceOptions.Load(Config(("FORWARDING_ADDRESS", "10.10.0.2:8090")));
        Assert.True(forwarder.IsForwarding);
        Assert.Equal("forwarding", forwarder.Role);
        Assert.Equal("10.10.0.2:8090", forwarder.Forwarding!.ToString());
    }

    [Fact]
    public void Bad_forwarding_address_stops_start_up_naming_it()
    {
        var e = Assert.Throws<InvalidSettingException>(() => ServiceOptions.Load(Config(("FORWARDING_ADDRESS", "host:port"))));
        Assert.Contains("FORWARDING_ADDRESS 'host:port'", e.Message);
    }

    [Fact]
    public void Blank_port_leaves_the_port_to_the_host_settings() =>
        Assert.Null(ServiceOptions.Load(Config(("KVS_PORT", " "))).Port);

    private static LogSettings Logs(params (string Name, string Value)[] values) => LogSettings.Load(Config(values));

    private static IConfiguration Config(params (string Name, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Name, v.Value))).Build();
}
