using System.Net;
using System.Net.Sockets;

namespace AotKvs.Tests.Support;

internal static class FreePort
{
    /// <summary>
    /// Below the kernel's ephemeral range (32768 and up): a port the OS hands out for port 0 is
    /// also what outgoing connections use as their own, and the tests open tens of thousands
    /// of those, so a server started on such a port could find it taken by the time it binds.
    /// </summary>
    private const int First = 20000, Last = 32000;

    /// <summary>A loopback port nobody listens on right now.</summary>
    public static int Next()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var port = Random.Shared.Next(First, Last);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // taken: another
            }
        }
        using var any = new TcpListener(IPAddress.Loopback, 0);
        any.Start();
        return ((IPEndPoint)any.LocalEndpoint).Port;
    }
}
