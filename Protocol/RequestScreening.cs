namespace AotKvs.Protocol;

/// <summary>
/// What every request goes through before routing, on both roles, so that main, a
/// forwarder and a chain give the same answer:
/// a target that is not a path ("*") is refused, and a key request is recognised from the
/// raw target.
/// </summary>
internal static class RequestScreening
{
    /// <summary>
    /// The framework removes dot segments before routing ("/kvs/.." becomes "/"), but keys
    /// come from the raw target, where ".." is an ordinary two-character key. So a raw path
    /// under /kvs is steered to the key route whatever the normalised path says, and
    /// "/x/../kvs/a" (normalised to "/kvs/a") stays an unknown path.
    /// </summary>
    private const string KeyRoutePath = KeyRules.Prefix + "/";

    public static WebApplication UseRequestScreening(this WebApplication app)
    {
        app.Use(static (context, next) =>
        {
            if (RequestTarget.PathAndQuery(context) is not { } target)
                return Responses.BadTarget.WriteAsync(context.Response);
            if (KeyRules.Locate(RequestTarget.Path(target), out _) != KeyStatus.NotKeyPath
                && !context.Request.Path.StartsWithSegments(KeyRules.Prefix))
                context.Request.Path = KeyRoutePath;
            return next(context);
        });
        app.UseRouting(); // after the screening, so that routing sees the steered path
        return app;
    }
}
