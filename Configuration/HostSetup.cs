using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Logging.Console;

namespace AotKvs.Configuration;

/// <summary>How the web host is set up: port, limits, logging, shutdown.</summary>
internal static class HostSetup
{
    public const int DefaultPort = 8090;

    public static WebApplicationBuilder ConfigureHost(this WebApplicationBuilder builder, ServiceOptions options)
    {
        // 8090 unless the standard ASP.NET Core settings (--urls, ASPNETCORE_URLS,
        // ASPNETCORE_HTTP_PORTS, ...) say otherwise.
        var config = builder.Configuration;
        if (string.IsNullOrEmpty(config["urls"]) && string.IsNullOrEmpty(config["http_ports"]) && string.IsNullOrEmpty(config["https_ports"]))
            builder.WebHost.UseUrls($"http://*:{DefaultPort}");

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            // Room for an absurdly long key, so it gets our JSON "Key is too long"
            // rather than the HTTP layer's bare 414.
            kestrel.Limits.MaxRequestLineSize = 64 * 1024;
            // Bounds the descriptors and memory that idle or silent clients can pin down;
            // connections beyond it are closed at once.
            kestrel.Limits.MaxConcurrentConnections = options.MaxConnections;
        });

        // Idle: stop at once. In-flight requests get a few seconds to finish.
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(5));

        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            console.UseUtcTimestamp = true;
            console.ColorBehavior = LoggerColorBehavior.Disabled;
        });
        // The framework's own start-up chatter is replaced by our single line.
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        return builder;
    }

    /// <summary>One line once listening: role, addresses, forwarding target.</summary>
    public static void LogStartupLine(this WebApplication app, ServiceOptions options)
    {
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
            var listening = addresses is null ? "?" : string.Join(", ", addresses);
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AotKvs");
            if (options.Forwarding is { } target)
                logger.LogInformation("AotKvs {Version} role=forwarding listening={Listening} forwarding-to={Target} timeout={Timeout}ms",
                    Version, listening, target, (int)options.ForwardTimeout.TotalMilliseconds);
            else
                logger.LogInformation("AotKvs {Version} role=main listening={Listening}", Version, listening);
        });
    }

    public static string Version { get; } =
        typeof(HostSetup).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
