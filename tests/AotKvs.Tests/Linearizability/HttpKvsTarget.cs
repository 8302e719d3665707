using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AotKvs.Tests.Linearizability;

/// <summary>
/// One client's keep-alive HTTP/1.1 connection to one instance, on a plain socket. Unlike
/// HttpClient it never retries a request on its own, so each recorded operation was sent
/// at most once; any failure after sending makes the outcome unknown.
/// </summary>
public sealed class HttpKvsTarget(string name, int port, string host = "127.0.0.1") : IKvsTarget
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private Socket? _socket;

    public string Name => name;

    public Task<Reply> PutAsync(string key, long value, CancellationToken cancel) =>
        SendAsync(OpKind.Put, key, $$"""{"value": {{value}}}""", cancel);

    public Task<Reply> GetAsync(string key, CancellationToken cancel) => SendAsync(OpKind.Get, key, null, cancel);

    public Task<Reply> DeleteAsync(string key, CancellationToken cancel) => SendAsync(OpKind.Delete, key, null, cancel);

    private async Task<Reply> SendAsync(OpKind kind, string key, string? body, CancellationToken cancel)
    {
        if (_socket is null)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(host), port), cancel);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                socket.Dispose();
                return Reply.NotSent;
            }
            _socket = socket;
        }

        var method = kind.ToString().ToUpperInvariant();
        var head = $"{method} /kvs/{key} HTTP/1.1\r\nHost: {host}:{port}\r\n" +
                   (body is null ? "\r\n" : $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}");
        try
        {
            await _socket.SendAsync(Encoding.ASCII.GetBytes(head), SocketFlags.None, cancel);
            var (status, text, close) = await ReadAnswerAsync(_socket, cancel);
            if (close || status is null)
                Drop();
            // The request was sent: it may have taken effect whatever came back.
            return status is { } code ? KvsAnswer.Interpret(kind, code, text) : Reply.Unexpected($"{kind}: garbled answer head: {text}");
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException or FormatException)
        {
            Drop();
            return new Reply(OpOutcome.Unknown);
        }
    }

    /// <summary>Reads one answer framed by Content-Length; a garbled status line or length comes back as a null status and the line.</summary>
    private async Task<(int? Status, string Body, bool Close)> ReadAnswerAsync(Socket socket, CancellationToken cancel)
    {
        var filled = 0;
        while (true)
        {
            var n = await socket.ReceiveAsync(_buffer.AsMemory(filled), SocketFlags.None, cancel);
            if (n == 0)
                throw new IOException("closed before a whole answer");
            filled += n;
            var text = Encoding.UTF8.GetString(_buffer, 0, filled);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end < 0)
                continue;
            var lines = text[..end].Split("\r\n");
            if (KvsAnswer.Status(lines[0]) is not { } status)
                return (null, lines[0], true);
            var length = 0;
            var close = false;
            foreach (var line in lines.Skip(1))
            {
                if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)
                    && !int.TryParse(line[15..].Trim(), System.Globalization.NumberStyles.None, null, out length))
                    return (null, line, true);
                else if (line.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase) && line.Contains("close", StringComparison.OrdinalIgnoreCase))
                    close = true;
            }
            var bodyStart = Encoding.UTF8.GetByteCount(text[..(end + 4)]);
            if (filled - bodyStart >= length)
                return (status, Encoding.UTF8.GetString(_buffer, bodyStart, length), close);
        }
    }

    private void Drop()
    {
        _socket?.Dispose();
        _socket = null;
    }

    public void Dispose() => Drop();
}
