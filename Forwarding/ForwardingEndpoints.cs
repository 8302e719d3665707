namespace AotKvs.Forwarding;

internal static class ForwardingEndpoints
{
    /// <summary>The forwarding role answers nothing itself: every path goes to main.</summary>
    public static IEndpointRouteBuilder MapForwarding(this IEndpointRouteBuilder app)
    {
        var forwarder = app.ServiceProvider.GetRequiredService<Forwarder>();
        app.Map("{**path}", forwarder.ForwardAsync);
        return app;
    }
}
