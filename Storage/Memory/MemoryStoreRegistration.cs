using System.Diagnostics.Metrics;
using AotKvs.Operations;

namespace AotKvs.Storage.Memory;

internal static class MemoryStoreRegistration
{
    /// <summary>A main that keeps its data in memory only: the store is the whole of it.</summary>
    public static WebApplicationBuilder AddMemoryStore(this WebApplicationBuilder builder)
    {
        builder.Services.AddObservedMemoryStore(new MemoryStore());
        builder.Services.AddSingleton<IKeyValueStore>(provider => provider.GetRequiredService<MemoryStore>());
        return builder;
    }

    /// <summary>
    /// <paramref name="store"/> as the instance's memory, with its gauges (kvs_keys,
    /// kvs_value_bytes) on the service's meter. The log registers the memory it recovered
    /// here and serves it through its own <see cref="IKeyValueStore"/>.
    /// </summary>
    public static IServiceCollection AddObservedMemoryStore(this IServiceCollection services, MemoryStore store) =>
        services.AddSingleton(provider =>
        {
            var meter = provider.GetRequiredService<IMeterFactory>().Create(ServiceMetrics.MeterName);
            meter.CreateObservableGauge("kvs.keys", () => (long)store.Count,
                description: "Keys stored on this main.");
            meter.CreateObservableGauge("kvs.value.bytes", store.ValueBytes,
                description: "Bytes of stored values (their JSON text) on this main.");
            return store;
        });
}
