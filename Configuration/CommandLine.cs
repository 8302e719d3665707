using System.Text;

namespace AotKvs.Configuration;

internal enum CommandKind { Serve, HealthCheck, Help, Version }

/// <summary>What the command line asks for, and the arguments the web host should see.</summary>
internal sealed record Command(CommandKind Kind, string[] HostArgs, string? Problem = null);

/// <summary>
/// The binary's flags. Each --flag of <see cref="Settings"/> is another name for its
/// environment variable and becomes "--NAME=value" for the configuration system, so a flag
/// overrides its variable and both are read (and checked) by <see cref="ServiceOptions"/> alone.
/// </summary>
internal static class CommandLine
{
    /// <summary>ASP.NET Core host settings that pass through unchanged.</summary>
    private static readonly string[] HostSettings = ["urls", "http_ports", "https_ports", "environment", "contentRoot", "applicationName"];

    public static Command Parse(string[] args)
    {
        var kind = CommandKind.Serve;
        var hostArgs = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "--help" or "-h" or "-?":
                    return new Command(CommandKind.Help, []);
                case "--version":
                    return new Command(CommandKind.Version, []);
                case "--healthcheck":
                    kind = CommandKind.HealthCheck;
                    continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
                return Fail(arg);
            var equals = arg.IndexOf('=');
            var name = equals < 0 ? arg[2..] : arg[2..equals];
            var setting = Array.Find(Settings.All, s => s.Flag == "--" + name || s.Variable.Equals(name, StringComparison.OrdinalIgnoreCase));
            var key = setting?.Variable
                ?? (Array.Exists(HostSettings, h => h.Equals(name, StringComparison.OrdinalIgnoreCase)) || name.Contains(':') ? name : null);
            if (key is null)
                return Fail(arg);

            string value;
            if (equals >= 0)
                value = arg[(equals + 1)..];
            else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                value = args[++i];
            else if (setting?.BareFlagValue is { } bare)
                value = bare;
            else
                return new Command(kind, [], $"option '{arg}' needs a value (see --help)");
            hostArgs.Add($"--{key}={value}");
        }
        return new Command(kind, [.. hostArgs]);
    }

    /// <summary>
    /// Carries out the commands that end at once and returns their exit code: help and
    /// version (0), or a command line it cannot use (2, with one message). Null: go on.
    /// </summary>
    public static int? Finish(this Command command)
    {
        if (command.Problem is { } problem)
        {
            Console.Error.WriteLine($"AotKvs: {problem}");
            return 2;
        }
        if (command.Kind == CommandKind.Help)
            Console.Out.Write(HelpText);
        else if (command.Kind == CommandKind.Version)
            Console.Out.WriteLine($"AotKvs {HostSetup.Version}");
        else
            return null;
        return 0;
    }

    private static Command Fail(string arg) => new(CommandKind.Serve, [], $"unknown option '{arg}' (see --help)");

    public static string HelpText
    {
        get
        {
            var text = new StringBuilder()
                .AppendLine($"AotKvs {HostSetup.Version}: an HTTP key-value store (main role) or a forwarder to one.")
                .AppendLine()
                .AppendLine("Usage: AotKvs [--flag value | --flag=value]...")
                .AppendLine("       AotKvs --healthcheck   exit 0 if this configuration's /healthz answers 200 within 2 s, else 1")
                .AppendLine("       AotKvs --version | --help")
                .AppendLine()
                .AppendLine("Settings (a flag overrides its environment variable):");
            foreach (var setting in Settings.All)
                text.AppendLine($"  {setting.Flag,-22} {setting.Variable,-24} {setting.Type}, default {setting.Default}")
                    .AppendLine($"  {"",-22} {setting.Meaning}")
                    .AppendLine($"  {"",-22} allowed: {setting.Allowed}");
            return text
                .AppendLine()
                .AppendLine("Also honoured: --urls, ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS (when --port/KVS_PORT is unset).")
                .AppendLine("Reserved paths, answered by every instance and never forwarded: /healthz, /readyz, /metrics.")
                .AppendLine("A bad setting stops start-up with one message and exit code 2.")
                .ToString();
        }
    }
}
