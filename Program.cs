using AotKvs.Configuration;
using AotKvs.Endpoints;
using AotKvs.Forwarding;
using AotKvs.Storage;

var builder = WebApplication.CreateSlimBuilder(HostSetup.CreateOptions(args));

ServiceOptions options;
try
{
    options = ServiceOptions.Load(builder.Configuration);
}
catch (InvalidSettingException e)
{
    Console.Error.WriteLine($"AotKvs: {e.Message}");
    return 2;
}

builder.ConfigureHost(options);
builder.Services.AddSingleton(options);
if (options.Forwarding is { } target)
    builder.Services.AddSingleton(new Forwarder(target, options.ForwardTimeout));
else
    builder.Services.AddSingleton<KeyValueStore>();

var app = builder.Build();

if (options.IsForwarding)
    app.MapForwarding();
else
    app.MapKeyValueStore().MapUnknownPaths();

app.LogStartupLine(options);
app.Run();
return 0;
