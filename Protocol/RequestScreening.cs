namespace AotKvs.Protocol;

/// <summary>
/// What every request goes through before routing, on both roles, so that main, a
/// forwarder and a chain give the same answer: a forwarder's tag is echoed
/// (<see cref="ExchangeTag"/>), a target that is not a path ("*") is refused, and a key request is recognised from the raw target and sent straight to the
/// role's key endpoint.
/// </summary>
internal static class RequestScreening
{
    /// <summary>
    /// The framework removes dot segments before routing ("/kvs/.." becomes "/"), but keys
    /// come from the raw target, where ".." is an ordinary two-character key. So a raw path
    /// under /kvs is given the key endpoint whatever the normalised path says, and
    /// "/x/../kvs/a" (normalised to "/kvs/a") is routed as the unknown path it is. Setting
    /// the endpoint here also spares key requests the route matching and its route values.
    /// </summary>
    public static WebApplication UseRequestScreening(this WebApplication app)
    {
        Endpoint? keyEndpoint = null; // found on first use: endpoints are mapped after this runs
        app.Use((context, next) =>
        {
            ExchangeTag.Echo(context); // before any answer, this middleware's own included
            if (RequestTarget.PathAndQuery(context) is not { } target)
                return Responses.BadTarget.WriteAsync(context.Response);
            if (KeyPath.Locate(RequestTarget.Path(target), out _) != KeyStatus.NotKeyPath)
                context.SetEndpoint(keyEndpoint ??= KeyRequestEndpoint.Find(app));
            return next(context);
        });
        app.UseRouting(); // after the screening: routing leaves a request that has its endpoint alone
        return app;
    }
}

/// <summary>Marks the endpoint that answers key requests: main's store, or a forwarder's catch-all.</summary>
internal sealed class KeyRequestEndpoint
{
    public static readonly KeyRequestEndpoint Marker = new();

    private KeyRequestEndpoint() { }

    public static Endpoint Find(IEndpointRouteBuilder app) =>
        app.DataSources.SelectMany(source => source.Endpoints)
            .Single(endpoint => endpoint.Metadata.GetMetadata<KeyRequestEndpoint>() is not null);
}
