using System.Net.Sockets;

namespace AotKvs.Protocol;

/// <summary>The cause label of a forward error, as counted in kvs_forward_errors_total.</summary>
internal static class FailureCause
{
    /// <summary>No connection to main came free within the bound (KVS_UPSTREAM_CONNECTIONS all in use).</summary>
    public const string Busy = "upstream_busy";

    public static readonly string[] Causes = ["refused", "unreachable", "timeout", "dropped", "invalid_response", Busy, "other"];

    public static string Cause(Exception failure)
    {
        for (Exception? e = failure; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case OperationCanceledException or TimeoutException:
                    return "timeout";
                case SocketException { SocketErrorCode: SocketError.ConnectionRefused }:
                    return "refused";
                case SocketException { SocketErrorCode: SocketError.TimedOut }:
                    return "timeout";
                case SocketException:
                    return "unreachable";
                case HttpIOException:
                    return "dropped";
                case HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError }:
                    return "unreachable";
                case HttpRequestException { HttpRequestError: HttpRequestError.InvalidResponse }:
                    return "invalid_response";
                case HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded }:
                    return "dropped";
            }
        }
        return failure is IOException ? "dropped" : "other";
    }
}
