using Microsoft.AspNetCore.Http.Features;

namespace AotKvs.Protocol;

/// <summary>
/// The request target exactly as the client sent it. Keys come from here rather than from
/// the framework's decoded path, which leaves some escapes (%2F) encoded and others not.
/// </summary>
internal static class RequestTarget
{
    /// <summary>
    /// The origin-form path and query ("/kvs/a%20b?x=1"). An absolute-form target
    /// ("http://host/kvs/a") is reduced to its path and query, so it can never name another host.
    /// Null for targets that are not paths at all ("*").
    /// </summary>
    public static string? PathAndQuery(HttpContext context)
    {
        var raw = context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget;
        if (raw.StartsWith('/'))
            return raw;

        var schemeEnd = raw.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
            return null;
        var pathStart = raw.IndexOfAny(['/', '?'], schemeEnd + 3);
        if (pathStart < 0)
            return "/";
        return raw[pathStart] == '/' ? raw[pathStart..] : "/" + raw[pathStart..];
    }

    /// <summary>The path alone, without the query.</summary>
    public static ReadOnlySpan<char> Path(string pathAndQuery)
    {
        var query = pathAndQuery.IndexOf('?');
        return query < 0 ? pathAndQuery : pathAndQuery.AsSpan(0, query);
    }
}
