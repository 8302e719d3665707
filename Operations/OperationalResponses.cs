using System.Text.Json;
using AotKvs.Configuration;
using AotKvs.Protocol;

namespace AotKvs.Operations;

/// <summary>The JSON bodies of /healthz and /readyz.</summary>
internal static class OperationalResponses
{
    public const string AllowedMethods = "GET, HEAD";

    /// <summary>200 {"status":"alive","role":...,"instance":...,"version":...}, encoded once.</summary>
    public static JsonResponse Alive(ServiceOptions options) =>
        new(StatusCodes.Status200OK, Body(("status", "alive"), ("role", options.Role), ("instance", options.Logs.Instance), ("version", HostSetup.Version)));

    /// <summary>200 {"status":"ready",...} or 503 {"status":"not ready","error":why,...}.</summary>
    public static JsonResponse Readiness(ServiceOptions options, string? problem) => problem is null
        ? new(StatusCodes.Status200OK, Body(("status", "ready"), ("role", options.Role), ("upstream", options.Forwarding?.Display), ("store", options.Store?.Display)))
        : new(StatusCodes.Status503ServiceUnavailable, Body(("status", "not ready"), ("role", options.Role), ("upstream", options.Forwarding?.Display), ("store", options.Store?.Display), ("error", problem)));

    private static byte[] Body(params (string Name, string? Value)[] fields)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var (name, value) in fields)
                if (value is not null)
                    json.WriteString(name, value);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
