using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace AotKvs.Configuration;

/// <summary>How the web host is set up: port, limits, logging, shutdown.</summary>
internal static class HostSetup
{
    /// <summary>
    /// Socket completions run on the socket engine's own threads instead of hopping to the
    /// thread pool: every handler here is short and never blocks, and the hop was the
    /// largest single cost under load (bench/profile.sh). The runtime reads this switch
    /// only from the environment, once, when the first socket is made; an explicit setting wins.
    /// </summary>
    public static void TuneSockets()
    {
        const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
        if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
            Environment.SetEnvironmentVariable(InlineCompletions, "1");
    }

    /// <summary>
    /// Content root is the binary's folder, not the working directory, and configuration
    /// files are not watched: the host would otherwise put an inotify watch on every folder
    /// below the working directory at start-up (hundreds of ms when started from a big tree).
    /// </summary>
    public static WebApplicationOptions CreateOptions(string[] args) => new()
    {
        Args = [.. args, "--hostBuilder:reloadConfigOnChange=false"],
        ContentRootPath = AppContext.BaseDirectory,
    };

    /// <summary>Connections the kernel may queue before the server accepts them.</summary>
    public const int ListenBacklog = 4096;

    public static WebApplicationBuilder ConfigureHost(this WebApplicationBuilder builder, ServiceOptions options)
    {
        ListenAddress.Apply(builder, options);

        // A burst of new connections waits in the kernel's accept queue; the server's default
        // of 512 drops SYNs beyond it, and a dropped SYN is retried only after a second (as
        // long as a forwarder's whole bound). The kernel caps this at net.core.somaxconn.
        builder.WebHost.UseSockets(sockets =>
        {
            sockets.Backlog = ListenBacklog;
            // A forwarder's handler only waits on sockets, never on CPU work or locks: run it
            // on the socket thread that read the request instead of hopping to the thread
            // pool twice per request (0.65x -> ~0.9x nginx's proxy_pass, bench/profile.sh --forwarder).
            sockets.UnsafePreferInlineScheduling = options.IsForwarding;
        });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            // Room for an absurdly long key, so it gets our JSON "Key is too long"
            // rather than the HTTP layer's bare 414.
            kestrel.Limits.MaxRequestLineSize = 64 * 1024;
            // What one connection's input may hold unread (pipelined requests behind a client
            // that does not read its answers): 128 KiB, not 1 MiB, so that the connection
            // limit times this stays modest. It must hold the longest request line.
            kestrel.Limits.MaxRequestBufferSize = 128 * 1024;
            // Bounds the descriptors and memory that idle or silent clients can pin down;
            // connections beyond it are closed at once.
            kestrel.Limits.MaxConcurrentConnections = options.MaxConnections;
        });

        // Idle: stop at once. In-flight requests get a few seconds to finish.
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(5));

        builder.AddLogs(options);
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
            else if (options.Store is { } store)
                logger.LogInformation("AotKvs {Version} role=main listening={Listening} store={Store} timeout={Timeout}ms",
                    Version, listening, store.Display, (int)store.Timeout.TotalMilliseconds);
            else
                logger.LogInformation("AotKvs {Version} role=main listening={Listening}", Version, listening);
        });
    }

    private static readonly List<PosixSignalRegistration> Signals = [];
    private static int _stopping;

    /// <summary>
    /// SIGHUP (a closed terminal, `kill -HUP`) would end the process at once, nothing
    /// drained; it stops the service the way SIGTERM and SIGINT do instead. The first stop
    /// signal is logged once.
    /// </summary>
    public static void LogAndStopOnSignals(this WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AotKvs");
        // Resolved now: app.Lifetime asks the service provider each time, and a second signal
        // (or the host's own handler) can come after the provider is disposed, which aborted the process.
        var lifetime = app.Lifetime;
        foreach (var signal in (ReadOnlySpan<PosixSignal>)[PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT, PosixSignal.SIGHUP])
            Signals.Add(PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true; // the default would end the process before in-flight requests finish
                if (Interlocked.Exchange(ref _stopping, 1) == 0)
                    logger.LogInformation("AotKvs stopping on {Signal}: finishing in-flight requests", context.Signal);
                lifetime.StopApplication();
            }));
    }

    public static string Version { get; } =
        typeof(HostSetup).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
