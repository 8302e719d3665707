using System.Net.Sockets;
using System.Text;

namespace AotKvs.Tests.Support;

/// <summary>
/// HTTP/1.1 over a plain socket, for requests a well-behaved client library refuses to
/// send (bad escapes, invalid UTF-8, odd framing). Reads one answer, bounded in time.
/// </summary>
public static class RawHttp
{
    public static byte[] Request(string method, string target, Uri server, string? contentType = null, byte[]? body = null)
    {
        var head = new StringBuilder()
            .Append($"{method} {target} HTTP/1.1\r\nHost: {server.Authority}\r\nConnection: close\r\n");
        if (contentType is not null)
            head.Append($"Content-Type: {contentType}\r\n");
        if (body is not null)
            head.Append($"Content-Length: {body.Length}\r\n");
        head.Append("\r\n");
        return [.. Encoding.ASCII.GetBytes(head.ToString()), .. body ?? []];
    }

    /// <summary>Sends the bytes and reads the answer; <see cref="WireAnswer.None"/> when the server closed without one.</summary>
    public static async Task<WireAnswer> SendAsync(Uri server, byte[] request, TimeSpan? bound = null, bool bodiless = false)
    {
        using var timeout = new CancellationTokenSource(bound ?? TimeSpan.FromSeconds(10));
        using var connection = await RawConnection.OpenAsync(server.Host, server.Port, timeout.Token);
        try
        {
            await connection.SendAsync(request, timeout.Token);
            return await connection.ReadAnswerAsync(timeout.Token, bodiless);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            return WireAnswer.None; // closed or reset by the server before a whole answer
        }
    }
}
