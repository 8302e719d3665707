using AotKvs.Configuration;
using Xunit;

namespace AotKvs.Tests.Unit;

[Trait("Category", "Unit")]
public sealed class CommandLineTests
{
    [Theory]
    [InlineData(new[] { "--port", "9000" }, "--KVS_PORT=9000")]
    [InlineData(new[] { "--port=9000" }, "--KVS_PORT=9000")]
    [InlineData(new[] { "--forwarding-address", "10.10.0.2:8090" }, "--FORWARDING_ADDRESS=10.10.0.2:8090")]
    [InlineData(new[] { "--log-format", "json" }, "--KVS_LOG_FORMAT=json")]
    [InlineData(new[] { "--access-log" }, "--KVS_ACCESS_LOG=true")]
    [InlineData(new[] { "--max-body-bytes", "-1" }, "--KVS_MAX_BODY_BYTES=-1")]
    [InlineData(new[] { "--KVS_PORT=9000" }, "--KVS_PORT=9000")]
    [InlineData(new[] { "--urls", "http://127.0.0.1:9000" }, "--urls=http://127.0.0.1:9000")]
    [InlineData(new[] { "--Logging:LogLevel:Default=Debug" }, "--Logging:LogLevel:Default=Debug")]
    public void Flags_become_settings_for_the_configuration_system(string[] args, string expected)
    {
        var command = CommandLine.Parse(args);
        Assert.Null(command.Problem);
        Assert.Equal(CommandKind.Serve, command.Kind);
        Assert.Equal([expected], command.HostArgs);
    }

    [Theory]
    [InlineData(new[] { "--help" }, "Help")]
    [InlineData(new[] { "-h" }, "Help")]
    [InlineData(new[] { "--version" }, "Version")]
    [InlineData(new[] { "--healthcheck", "--port", "1" }, "HealthCheck")]
    public void Commands_are_recognised(string[] args, string kind) =>
        Assert.Equal(kind, CommandLine.Parse(args).Kind.ToString());

    [Theory]
    [InlineData("--bogus")]
    [InlineData("bogus")]
    [InlineData("--")]
    [InlineData("--port")]
    public void Unknown_or_incomplete_flags_are_a_problem(string arg) =>
        Assert.NotNull(CommandLine.Parse([arg]).Problem);
}
