using AotKvs.Configuration;
using AotKvs.Operations;
using AotKvs.Protocol;

namespace AotKvs.Forwarding;

internal static class ForwardingEndpoints
{
    /// <summary>The forwarder, what it learns from its requests, and its background probe of main.</summary>
    public static WebApplicationBuilder AddForwarding(this WebApplicationBuilder builder, ServiceOptions options, ForwardingTarget target)
    {
        var services = builder.Services;
        services.AddSingleton<ForwardingMetrics>();
        services.AddSingleton<UpstreamReport>();
        services.AddSingleton(provider => new Forwarder(target, options.ForwardTimeout, options.UpstreamConnections, options.UpstreamPipeline, provider.GetRequiredService<UpstreamReport>(), budget: provider.GetRequiredService<BufferBudget>(),
            maxWaitSeconds: options.MaxWaitSeconds));
        services.AddHostedService(provider => new UpstreamProbe(target, options, provider.GetRequiredService<Readiness>()));
        return builder;
    }

    /// <summary>The forwarding role answers nothing itself: every path goes to main.</summary>
    public static IEndpointRouteBuilder MapForwarding(this IEndpointRouteBuilder app)
    {
        var forwarder = app.ServiceProvider.GetRequiredService<Forwarder>();
        app.Map("{**path}", forwarder.ForwardAsync).WithMetadata(KeyRequestEndpoint.Marker);
        return app;
    }
}
