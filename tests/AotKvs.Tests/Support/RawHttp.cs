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

    /// <summary>Sends the bytes and reads the answer; status 0 when the server closed without one.</summary>
    public static async Task<KvsAnswerRaw> SendAsync(Uri server, byte[] request, TimeSpan? bound = null)
    {
        using var timeout = new CancellationTokenSource(bound ?? TimeSpan.FromSeconds(10));
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(request, timeout.Token);

        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await stream.ReadAsync(buffer, timeout.Token);
                if (n == 0) break;
                received.Write(buffer, 0, n);
                if (KvsAnswerRaw.TryParse(received.ToArray(), out _)) break;
            }
        }
        catch (IOException)
        {
            // reset by the server: whatever arrived is the answer
        }
        KvsAnswerRaw.TryParse(received.ToArray(), out var answer);
        return answer ?? new KvsAnswerRaw(0, new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase), "");
    }
}

/// <summary>An answer read off a raw socket.</summary>
public sealed record KvsAnswerRaw(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public string? ContentType => Headers.TryGetValue("Content-Type", out var value) ? value : null;

    public void ShouldBe(int status, string expectedJson) =>
        new KvsAnswer(Status, ContentType, Body, null!, null!).ShouldBe(status, expectedJson);

    public void ShouldBeJsonError(int status) =>
        new KvsAnswer(Status, ContentType, Body, null!, null!).ShouldBeJsonError(status);

    /// <summary>True once the bytes hold a whole answer framed by Content-Length.</summary>
    public static bool TryParse(byte[] data, out KvsAnswerRaw? answer)
    {
        answer = null;
        var text = Encoding.UTF8.GetString(data);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0) return false;
        var lines = text[..end].Split("\r\n");
        var parts = lines[0].Split(' ');
        if (parts.Length < 2 || !int.TryParse(parts[1], out var status)) return false;
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon > 0) headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        var headerBytes = Encoding.UTF8.GetByteCount(text[..(end + 4)]);
        var length = headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl) : 0;
        if (data.Length - headerBytes < length) return false;
        answer = new KvsAnswerRaw(status, headers, Encoding.UTF8.GetString(data, headerBytes, length));
        return true;
    }
}
