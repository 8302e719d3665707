using AotKvs.Configuration;
using AotKvs.Storage;

namespace AotKvs.Operations;

internal static class OperationsSetup
{
    /// <summary>Readiness and metrics, on both roles.</summary>
    public static WebApplicationBuilder AddOperations(this WebApplicationBuilder builder, ServiceOptions options)
    {
        var services = builder.Services;
        services.AddSingleton(provider => new Readiness(
            options.Forwarding is { } target ? $"main {target} not probed yet" : null,
            provider.GetRequiredService<ILogger<Readiness>>()));
        services.AddSingleton<MetricsCollector>();
        services.AddHostedService<IdleMemoryTrimmer>();
        services.AddSingleton(provider => new ServiceMetrics(
            provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            provider.GetRequiredService<MetricsCollector>(),
            options,
            provider.GetRequiredService<Readiness>(),
            provider.GetService<KeyValueStore>()));
        return builder;
    }
}
