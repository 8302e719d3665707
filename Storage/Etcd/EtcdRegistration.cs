using System.Text;
using AotKvs.Configuration;
using AotKvs.Operations;

namespace AotKvs.Storage.Etcd;

internal static class EtcdRegistration
{
    /// <summary>
    /// A main over an etcd cluster: the store, its connections and its readiness probe. Only
    /// called when KVS_STORE names a cluster, so a main in memory builds none of it.
    /// </summary>
    public static WebApplicationBuilder AddEtcdStore(this WebApplicationBuilder builder, ServiceOptions options, StoreSettings settings)
    {
        var services = builder.Services;
        services.AddSingleton(settings);
        services.AddSingleton<EtcdMetrics>();
        services.AddSingleton<EtcdChannel>();
        services.AddSingleton(provider => new EtcdStore(provider.GetRequiredService<EtcdChannel>(), Encoding.UTF8.GetBytes(settings.Prefix)));
        services.AddSingleton<IKeyValueStore>(provider => provider.GetRequiredService<EtcdStore>());
        services.AddHostedService(provider => new EtcdProbe(
            provider.GetRequiredService<EtcdStore>(), settings, options, provider.GetRequiredService<Readiness>()));
        return builder;
    }
}
