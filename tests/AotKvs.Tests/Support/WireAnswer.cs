using System.Text;

namespace AotKvs.Tests.Support;

/// <summary>One HTTP answer read off a raw socket: status, headers and the body as sent.</summary>
public sealed record WireAnswer(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    /// <summary>What a raw request gets when the server closes without answering.</summary>
    public static readonly WireAnswer None = new(0, new Dictionary<string, string>(), []);

    public string? ContentType => Headers.TryGetValue("Content-Type", out var value) ? value : null;
    public string Text => Encoding.UTF8.GetString(Body);

    public void ShouldBe(int status, string expectedJson) => AsKvsAnswer().ShouldBe(status, expectedJson);

    public void ShouldBeJsonError(int status) => AsKvsAnswer().ShouldBeJsonError(status);

    private KvsAnswer AsKvsAnswer() => new(Status, ContentType, Text, null!, null!);

    /// <summary>The status of "HTTP/1.1 200 OK"; null for anything else.</summary>
    public static int? StatusOf(string statusLine)
    {
        var parts = statusLine.Split(' ', 3);
        return parts.Length >= 2 && parts[0] == "HTTP/1.1" && parts[1].Length == 3
               && int.TryParse(parts[1], System.Globalization.NumberStyles.None, null, out var status) && status >= 100
            ? status
            : null;
    }

    /// <summary>
    /// The first whole answer in <paramref name="data"/>, framed by Content-Length (no body
    /// after a HEAD), and how many bytes it took; null while it is incomplete. A head that is
    /// not HTTP (a garbled status line or length) is a <see cref="MalformedAnswerException"/>.
    /// </summary>
    public static WireAnswer? TryParse(ReadOnlySpan<byte> data, bool bodiless, out int consumed)
    {
        consumed = 0;
        var end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0)
            return null;
        var lines = Encoding.Latin1.GetString(data[..end]).Split("\r\n");
        if (StatusOf(lines[0]) is not { } status)
            throw new MalformedAnswerException(lines[0]);

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon > 0)
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        var length = 0;
        if (!bodiless && headers.TryGetValue("Content-Length", out var text)
            && !int.TryParse(text, System.Globalization.NumberStyles.None, null, out length))
            throw new MalformedAnswerException("Content-Length: " + text);

        var bodyStart = end + 4;
        if (data.Length - bodyStart < length)
            return null;
        consumed = bodyStart + length;
        return new WireAnswer(status, headers, data.Slice(bodyStart, length).ToArray());
    }
}

/// <summary>An answer head that is not HTTP; the message is the offending line.</summary>
public sealed class MalformedAnswerException(string line) : FormatException(line);

/// <summary>
/// One client connection on a raw socket: sends bytes exactly as given and reads whole
/// answers one after another (keep-alive, pipelining-safe), for requests a client library
/// would change or for counting what the server does per connection.
/// </summary>
public sealed class RawConnection : IDisposable
{
    private readonly MemoryStream _received = new();
    private readonly byte[] _buffer = new byte[64 * 1024];

    private RawConnection(System.Net.Sockets.Socket socket) => Socket = socket;

    public System.Net.Sockets.Socket Socket { get; }

    public static async Task<RawConnection> OpenAsync(string host, int port, CancellationToken cancel, int? receiveBuffer = null)
    {
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork,
            System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
        if (receiveBuffer is { } size)
            socket.ReceiveBufferSize = size;
        try
        {
            await socket.ConnectAsync(host, port, cancel);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new RawConnection(socket);
    }

    public async Task SendAsync(string request, CancellationToken cancel) =>
        await Socket.SendAsync(Encoding.ASCII.GetBytes(request), System.Net.Sockets.SocketFlags.None, cancel);

    public async Task SendAsync(byte[] request, CancellationToken cancel) =>
        await Socket.SendAsync(request, System.Net.Sockets.SocketFlags.None, cancel);

    /// <summary>The next whole answer; an IOException if the server closes first.</summary>
    public async Task<WireAnswer> ReadAnswerAsync(CancellationToken cancel, bool bodiless = false)
    {
        while (true)
        {
            if (WireAnswer.TryParse(_received.GetBuffer().AsSpan(0, (int)_received.Length), bodiless, out var consumed) is { } answer)
            {
                var rest = _received.GetBuffer().AsSpan(consumed, (int)_received.Length - consumed).ToArray();
                _received.SetLength(0);
                _received.Write(rest);
                return answer;
            }
            var n = await Socket.ReceiveAsync(_buffer, System.Net.Sockets.SocketFlags.None, cancel);
            if (n == 0)
                throw new IOException("the server closed the connection before a whole answer");
            _received.Write(_buffer, 0, n);
        }
    }

    public void Dispose() => Socket.Dispose();
}
