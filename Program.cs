using AotKvs.Configuration;
using AotKvs.Endpoints;
using AotKvs.Forwarding;
using AotKvs.Operations;
using AotKvs.Protocol;
using AotKvs.Storage.Etcd;
using AotKvs.Storage.Log;
using AotKvs.Storage.Memory;

HostSetup.TuneSockets();
var command = CommandLine.Parse(args);
if (command.Finish() is { } exitCode) // --help, --version, or a flag it cannot use
    return exitCode;

var builder = WebApplication.CreateSlimBuilder(HostSetup.CreateOptions(command.HostArgs));

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
// Operations first: every role's parts report into its readiness and meter.
builder.AddOperations(options);
// The one buffer budget (KVS_MAX_BUFFERED_BYTES) every request path draws from.
builder.Services.AddSingleton(provider => new BufferBudget(options.MaxBufferedBytes, provider.GetRequiredService<ILoggerFactory>().CreateLogger("AotKvs")));
try
{
    if (options.Forwarding is { } target)
        builder.AddForwarding(options, target);
    else if (options.Store is { } store)
        builder.AddEtcdStore(options, store);
    else if (options.Durability is not null)
        builder.AddDurableStore(options); // locks and recovers the data dir before anything listens
    else
        builder.AddMemoryStore();
}
catch (InvalidSettingException e) // a data dir that cannot be locked, read or written
{
    Console.Error.WriteLine($"AotKvs: {e.Message}");
    return 2;
}
var app = builder.Build();

app.UseAccessLog(options.Logs);
app.UseRequestScreening();
app.MapOperations();
if (options.IsForwarding)
    app.MapForwarding();
else
    app.MapKeyValueStore().MapUnknownPaths();

app.LogStartupLine(options);
app.LogAndStopOnSignals();
try
{
    app.Run();
}
catch (IOException e) // the port is taken or not ours to bind: one line, not a stack trace
{
    Console.Error.WriteLine($"AotKvs: cannot listen: {e.Message}");
    return 2;
}
return 0;
