using System.Diagnostics;
using AotKvs.Configuration;
using Microsoft.AspNetCore.Http.Features;

namespace AotKvs.Operations;

/// <summary>
/// One log line per request (KVS_ACCESS_LOG=true). Off by default, and then it is not in the
/// pipeline at all: no per-request cost.
/// </summary>
internal static partial class AccessLog
{
    public static WebApplication UseAccessLog(this WebApplication app, LogSettings logs)
    {
        if (!logs.AccessLog)
            return app;
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AotKvs.Access");
        app.Use(async (context, next) =>
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                await next(context);
            }
            finally
            {
                Request(logger, context.Request.Method, context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget,
                    context.Response.StatusCode, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        });
        return app;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Method} {Target} {Status} {ElapsedMs}ms")]
    private static partial void Request(ILogger logger, string method, string target, int status, double elapsedMs);
}
