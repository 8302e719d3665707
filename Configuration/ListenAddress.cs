namespace AotKvs.Configuration;

/// <summary>
/// Where the server listens, and so where --healthcheck looks: --port/KVS_PORT, else the
/// standard ASP.NET Core settings (--urls, ASPNETCORE_URLS, then ASPNETCORE_HTTP_PORTS),
/// else port 8090; always on all interfaces unless a URL names one.
/// </summary>
internal static class ListenAddress
{
    public const int DefaultPort = 8090;

    public static void Apply(WebApplicationBuilder builder, ServiceOptions options)
    {
        var config = builder.Configuration;
        if (options.Port is { } port)
            builder.WebHost.UseUrls($"http://*:{port}");
        else if (string.IsNullOrEmpty(config["urls"]) && string.IsNullOrEmpty(config["http_ports"]) && string.IsNullOrEmpty(config["https_ports"]))
            builder.WebHost.UseUrls($"http://*:{DefaultPort}");
    }

    /// <summary>The /healthz this configuration's server answers on, seen from inside its own host.</summary>
    public static Uri HealthUri(IConfiguration config, ServiceOptions options)
    {
        if (options.Port is { } port)
            return Loopback(port);

        var urls = config["urls"];
        if (!string.IsNullOrWhiteSpace(urls))
        {
            var first = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0];
            // Wildcard hosts ("*", "+", "0.0.0.0", "[::]") are not URIs, or not dialable: use loopback.
            var parsed = first.Replace("://*", "://localhost").Replace("://+", "://localhost");
            if (Uri.TryCreate(parsed, UriKind.Absolute, out var uri))
            {
                var wildcard = uri.Host is "localhost" or "0.0.0.0" or "[::]" or "::";
                return wildcard ? Loopback(uri.Port) : new Uri($"{uri.Scheme}://{uri.Authority}/healthz");
            }
        }

        var ports = config["http_ports"];
        if (!string.IsNullOrWhiteSpace(ports)
            && int.TryParse(ports.Split(';', StringSplitOptions.TrimEntries)[0], out var httpPort))
            return Loopback(httpPort);
        return Loopback(DefaultPort);
    }

    private static Uri Loopback(int port) => new($"http://127.0.0.1:{port}/healthz");
}
