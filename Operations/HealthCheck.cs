using AotKvs.Protocol;

namespace AotKvs.Operations;

/// <summary>
/// "AotKvs --healthcheck": the container's HEALTHCHECK, for an image with no shell or curl.
/// Exit 0 when this configuration's /healthz answers 200 within two seconds, else 1.
/// </summary>
internal static class HealthCheck
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(2);

    public static async Task<int> RunAsync(Uri health)
    {
        using var client = new HttpClient(LeanHttpHandler.Create(Bound, Bound))
        {
            Timeout = Bound,
        };
        try
        {
            using var response = await client.GetAsync(health);
            if (response.StatusCode == System.Net.HttpStatusCode.OK)
            {
                Console.Out.WriteLine($"healthy: {health} answered 200");
                return 0;
            }
            Console.Out.WriteLine($"unhealthy: {health} answered {(int)response.StatusCode}");
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            Console.Out.WriteLine($"unhealthy: {health} gave no answer ({FailureCause.Cause(e)})");
        }
        return 1;
    }
}
