namespace AotKvs.Configuration;

/// <summary>
/// Where a forwarding instance sends requests: FORWARDING_ADDRESS as "host:port", where
/// host is an IPv4 address, a bracketed IPv6 address or a name. Without a port, the
/// service's own default port (8090), since main is the same binary.
/// </summary>
internal sealed class ForwardingTarget
{
    private readonly string _origin;

    private ForwardingTarget(string origin, string display, string host, int port)
    {
        _origin = origin;
        Display = display;
        Host = host;
        Port = port;
    }

    /// <summary>host:port as it will be dialled (also the Host header main receives).</summary>
    public string Display { get; }

    /// <summary>The name or address to dial, IPv6 without brackets.</summary>
    public string Host { get; }

    public int Port { get; }

    public static bool TryParse(string address, out ForwardingTarget? target, out string? problem)
    {
        target = null;
        problem = null;
        var text = address.Trim();
        if (text.Contains("://", StringComparison.Ordinal))
            text = text[(text.IndexOf("://", StringComparison.Ordinal) + 3)..]; // tolerate a pasted http://
        text = text.TrimEnd('/');

        if (!Uri.TryCreate("http://" + text, UriKind.Absolute, out var uri)
            || uri.PathAndQuery != "/" || uri.UserInfo.Length > 0 || uri.Fragment.Length > 0 || uri.Host.Length == 0)
        {
            problem = $"FORWARDING_ADDRESS '{address}' is not host:port";
            return false;
        }

        var port = uri.IsDefaultPort && !text.EndsWith(":80", StringComparison.Ordinal) ? ListenAddress.DefaultPort : uri.Port;
        if (port is < 1 or > 65535)
        {
            problem = $"FORWARDING_ADDRESS '{address}' has a port outside 1-65535";
            return false;
        }

        var host = uri.HostNameType == UriHostNameType.IPv6 ? $"[{uri.IdnHost.Trim('[', ']')}]" : uri.IdnHost;
        var display = $"{host}:{port}";
        target = new ForwardingTarget("http://" + display, display, uri.IdnHost.Trim('[', ']'), port);
        return true;
    }

    /// <summary>
    /// The URI for a path and query exactly as the client sent it: no dot-segment removal,
    /// no re-escaping, so main sees the same key.
    /// </summary>
    public Uri UriFor(string pathAndQuery) =>
        new(_origin + pathAndQuery, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });

    public override string ToString() => Display;
}
