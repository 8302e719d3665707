// Benchmark ceiling: what Kestrel + routing on Native AOT can do when the handler does no
// work at all. Every /kvs/<key> request, whatever its method, gets the same small JSON 200
// (the shape of a GET hit), written the way AotKvs writes its answers.
using System.Buffers;
using Microsoft.Extensions.Logging.Console;

// The same host and runtime settings as AotKvs (Configuration/HostSetup.cs).
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
{
    Args = [.. args, "--hostBuilder:reloadConfigOnChange=false"],
    ContentRootPath = AppContext.BaseDirectory,
});
builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(console =>
{
    console.SingleLine = true;
    console.ColorBehavior = LoggerColorBehavior.Disabled;
});
builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);

var app = builder.Build();

var body = """{"result":"found","value":"v-0123456789abcdef"}"""u8.ToArray();
app.Map("/kvs/{**key}", (RequestDelegate)(context =>
{
    var response = context.Response;
    response.StatusCode = StatusCodes.Status200OK;
    response.Headers.ContentType = "application/json";
    response.ContentLength = body.Length;
    response.BodyWriter.Write(body);
    return FlushAsync(response.BodyWriter);
}));
app.Map("{**path}", (RequestDelegate)(context =>
{
    context.Response.StatusCode = StatusCodes.Status404NotFound;
    return Task.CompletedTask;
}));

app.Run();

// As AotKvs's JsonResponse does it.
static async Task FlushAsync(System.IO.Pipelines.PipeWriter writer) => await writer.FlushAsync();
