using AotKvs.Protocol;

namespace AotKvs.Endpoints;

internal static class UnknownPathEndpoints
{
    /// <summary>Everything no other route claims: a JSON 404 rather than an empty one.</summary>
    public static IEndpointRouteBuilder MapUnknownPaths(this IEndpointRouteBuilder app)
    {
        app.Map("{**path}", context => Responses.PathNotFound.WriteAsync(context.Response));
        return app;
    }
}
