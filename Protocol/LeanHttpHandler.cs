namespace AotKvs.Protocol;

/// <summary>
/// The one set-up of the general-purpose HTTP client where the service uses it: the etcd
/// store's HTTP/2 connections, the forwarder's readiness probe of main and `--healthcheck`.
/// (Requests forwarded to main go through the forwarder's own client instead.)
/// </summary>
internal static class LeanHttpHandler
{
    /// <summary>No proxy, cookies, redirects, decompression or trace headers; a bounded connect.</summary>
    public static SocketsHttpHandler Create(TimeSpan connectTimeout, TimeSpan pooledIdleTimeout) => new()
    {
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        // AutomaticDecompression is left unset (None): setting it, even to None, keeps the
        // decompression handler and its Brotli and zlib code in the binary.
        ConnectTimeout = connectTimeout,
        PooledConnectionIdleTimeout = pooledIdleTimeout,
        ActivityHeadersPropagator = null,
    };
}
