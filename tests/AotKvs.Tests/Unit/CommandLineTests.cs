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

    [Theory]
    [InlineData(new[] { "-?" }, "Help")]
    [InlineData(new[] { "--port", "1", "--version" }, "Version")]
    [InlineData(new[] { "--port", "1", "--healthcheck" }, "HealthCheck")]
    [InlineData(new[] { "--port", "1" }, "Serve")]
    public void The_command_is_found_anywhere_on_the_line(string[] args, string kind) =>
        Assert.Equal(kind, CommandLine.Parse(args).Kind.ToString());

    [Fact]
    public void Healthcheck_keeps_the_settings_around_it()
    {
        var command = CommandLine.Parse(["--port", "9000", "--healthcheck", "--log-level=warning"]);
        Assert.Equal(CommandKind.HealthCheck, command.Kind);
        Assert.Equal(["--KVS_PORT=9000", "--KVS_LOG_LEVEL=warning"], command.HostArgs);
    }

    [Theory]
    [InlineData(new[] { "--access-log", "--port", "1" }, new[] { "--KVS_ACCESS_LOG=true", "--KVS_PORT=1" })]
    [InlineData(new[] { "--access-log", "false" }, new[] { "--KVS_ACCESS_LOG=false" })]
    [InlineData(new[] { "--URLS", "http://127.0.0.1:1" }, new[] { "--URLS=http://127.0.0.1:1" })]
    [InlineData(new[] { "--http_ports=1" }, new[] { "--http_ports=1" })]
    [InlineData(new[] { "--https_ports=2" }, new[] { "--https_ports=2" })]
    [InlineData(new[] { "--environment", "Production" }, new[] { "--environment=Production" })]
    [InlineData(new[] { "--contentRoot", "/app" }, new[] { "--contentRoot=/app" })]
    [InlineData(new[] { "--applicationName", "x" }, new[] { "--applicationName=x" })]
    [InlineData(new[] { "--kvs_port=2" }, new[] { "--KVS_PORT=2" })]
    [InlineData(new[] { "--instance", "a=b" }, new[] { "--KVS_INSTANCE=a=b" })]
    [InlineData(new[] { "--instance=a=b" }, new[] { "--KVS_INSTANCE=a=b" })]
    [InlineData(new[] { "--port=" }, new[] { "--KVS_PORT=" })]
    public void Flags_take_the_next_word_or_what_follows_the_equals_sign(string[] args, string[] expected)
    {
        var command = CommandLine.Parse(args);
        Assert.Null(command.Problem);
        Assert.Equal(expected, command.HostArgs);
    }

    [Theory]
    [InlineData(new[] { "--port", "--log-level", "debug" }, "option '--port' needs a value (see --help)")]
    [InlineData(new[] { "--bogus=1" }, "unknown option '--bogus=1' (see --help)")]
    [InlineData(new[] { "-p", "1" }, "unknown option '-p' (see --help)")]
    [InlineData(new[] { "x-port", "1" }, "unknown option 'x-port' (see --help)")]
    [InlineData(new[] { "--port", "1", "stray" }, "unknown option 'stray' (see --help)")]
    public void A_line_it_cannot_use_gets_one_message(string[] args, string problem)
    {
        var command = CommandLine.Parse(args);
        Assert.Equal(problem, command.Problem);
        Assert.Empty(command.HostArgs);
    }

    [Fact]
    public void Help_starts_with_the_usage_and_ends_with_what_else_is_honoured()
    {
        var lines = CommandLine.HelpText.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        Assert.StartsWith("AotKvs ", lines[0]);
        Assert.Contains("Usage: AotKvs [--flag value | --flag=value]...", lines);
        Assert.Contains(lines, l => l.Contains("AotKvs --healthcheck") && l.Contains("/healthz answers 200 within 2 s"));
        Assert.Contains(lines, l => l.Contains("AotKvs --version | --help"));
        Assert.Contains("Settings (a flag overrides its environment variable):", lines);
        Assert.Contains(lines, l => l.StartsWith("Also honoured: --urls, ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS"));
        Assert.Contains(lines, l => l.StartsWith("Reserved paths") && l.Contains("/healthz, /readyz, /metrics"));
        Assert.Equal("A bad setting stops start-up with one message and exit code 2.", lines[^1]);
    }
}

/// <summary>The commands that end at once, with what they print (Console is swapped, so these never run beside other tests).</summary>
[Collection(ConsoleCollection.Name), Trait("Category", "Unit")]
public sealed class CommandFinishTests
{
    [Fact]
    public void Help_prints_the_help_and_exits_0()
    {
        var (code, output, errors) = Finish(["--help"]);
        Assert.Equal(0, code);
        Assert.Equal(CommandLine.HelpText, output);
        Assert.Empty(errors);
    }

    [Fact]
    public void Version_prints_one_line_and_exits_0()
    {
        var (code, output, _) = Finish(["--version"]);
        Assert.Equal(0, code);
        Assert.Equal($"AotKvs {HostSetup.Version}{Environment.NewLine}", output);
    }

    [Fact]
    public void A_problem_is_one_line_on_stderr_and_exit_code_2()
    {
        var (code, output, errors) = Finish(["--bogus"]);
        Assert.Equal(2, code);
        Assert.Empty(output);
        Assert.Equal($"AotKvs: unknown option '--bogus' (see --help){Environment.NewLine}", errors);
    }

    [Fact]
    public void Serving_goes_on()
    {
        var (code, output, errors) = Finish(["--port", "1"]);
        Assert.Null(code);
        Assert.Empty(output + errors);
    }

    private static (int? Code, string Output, string Errors) Finish(string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var output = new StringWriter();
        using var errors = new StringWriter();
        Console.SetOut(output);
        Console.SetError(errors);
        try
        {
            var code = CommandLine.Parse(args).Finish();
            return (code, output.ToString(), errors.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }
}

/// <summary>
/// In-process tests of process-wide state (Console, meter listeners, which hear every
/// meter in the process): run on their own, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "process-wide";
}
