using System.Text;
using AotKvs.Configuration;
using AotKvs.Protocol;

namespace AotKvs.Operations;

/// <summary>
/// The reserved paths every instance answers itself, whatever its role, and never forwards:
/// liveness, readiness and Prometheus metrics. Their literal routes win over the catch-all.
/// </summary>
internal static class OperationalEndpoints
{
    public const string HealthPath = "/healthz";
    public const string ReadyPath = "/readyz";
    public const string MetricsPath = "/metrics";

    /// <summary>Readiness, metrics and the idle memory trimmer, on both roles. Registered before the roles' parts, which report into readiness and the meter.</summary>
    public static WebApplicationBuilder AddOperations(this WebApplicationBuilder builder, ServiceOptions options)
    {
        var services = builder.Services;
        services.AddSingleton(provider => new Readiness(
            options.Forwarding is { } target ? $"main {target} not probed yet"
                : options.Store is { } store ? $"store {store.Display} not probed yet"
                : null,
            provider.GetRequiredService<ILogger<Readiness>>()));
        services.AddSingleton<MetricsCollector>();
        services.AddHostedService<IdleMemoryTrimmer>();
        services.AddSingleton(provider => new ServiceMetrics(
            provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            provider.GetRequiredService<MetricsCollector>(),
            options,
            provider.GetRequiredService<Readiness>(),
            provider.GetRequiredService<BufferBudget>()));
        return builder;
    }

    public static IEndpointRouteBuilder MapOperations(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<ServiceOptions>();
        var readiness = app.ServiceProvider.GetRequiredService<Readiness>();
        var collector = app.ServiceProvider.GetRequiredService<MetricsCollector>();
        _ = app.ServiceProvider.GetRequiredService<ServiceMetrics>(); // instruments exist before the first request

        var alive = OperationalResponses.Alive(options);
        var ready = OperationalResponses.Readiness(options, null);

        app.Map(HealthPath, context => ReadOnly(context) ?? alive.WriteAsync(context.Response));
        app.Map(ReadyPath, context => ReadOnly(context)
            ?? (readiness.Problem is { } problem ? OperationalResponses.Readiness(options, problem) : ready).WriteAsync(context.Response));
        app.Map(MetricsPath, context => ReadOnly(context) ?? WriteMetricsAsync(context.Response, collector));
        return app;
    }

    /// <summary>
    /// Null for GET and HEAD; otherwise the 405 answer, so a PUT /healthz is never forwarded.
    /// Every answer here describes this moment, so no cache may keep it (as ASP.NET Core's
    /// own health checks say).
    /// </summary>
    private static Task? ReadOnly(HttpContext context)
    {
        context.Response.Headers.CacheControl = "no-store";
        var method = context.Request.Method;
        if (method == HttpMethods.Get || method == HttpMethods.Head) // case-sensitive, as on keys
            return null;
        context.Response.Headers.Allow = OperationalResponses.AllowedMethods;
        return Responses.MethodNotAllowed.WriteAsync(context.Response);
    }

    private static Task WriteMetricsAsync(HttpResponse response, MetricsCollector collector)
    {
        var body = Encoding.UTF8.GetBytes(collector.Scrape());
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = PrometheusText.ContentType;
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body).AsTask();
    }
}
