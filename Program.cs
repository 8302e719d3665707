using AotKvs.Configuration;
using AotKvs.Endpoints;
using AotKvs.Forwarding;
using AotKvs.Operations;
using AotKvs.Storage;

var command = CommandLine.Parse(args);
switch (command)
{
    case { Problem: { } problem }:
        Console.Error.WriteLine($"AotKvs: {problem}");
        return 2;
    case { Kind: CommandKind.Help }:
        Console.Out.Write(CommandLine.HelpText);
        return 0;
    case { Kind: CommandKind.Version }:
        Console.Out.WriteLine($"AotKvs {HostSetup.Version}");
        return 0;
}

var builder = WebApplication.CreateSlimBuilder(command.HostArgs);

ServiceOptions options;
try
{
    options = ServiceOptions.Load(builder.Configuration);
}
catch (InvalidSettingException e)
{
    Console.Error.WriteLine($"AotKvs: {e.Message}");
    return command.Kind == CommandKind.HealthCheck ? 1 : 2;
}

if (command.Kind == CommandKind.HealthCheck)
    return await HealthCheck.RunAsync(ListenAddress.HealthUri(builder.Configuration, options));

builder.ConfigureHost(options);
builder.Services.AddSingleton(options);
if (options.Forwarding is { } target)
    builder.Services.AddSingleton(services => new Forwarder(target, options.ForwardTimeout, services.GetRequiredService<UpstreamReport>()));
else
    builder.Services.AddSingleton<KeyValueStore>();
builder.AddOperations(options);

var app = builder.Build();

app.UseAccessLog(options.Logs);
app.MapOperations();
if (options.IsForwarding)
    app.MapForwarding();
else
    app.MapKeyValueStore().MapUnknownPaths();

app.LogStartupLine(options);
app.Run();
return 0;
