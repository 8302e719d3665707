using System.Net.Sockets;
using AotKvs.Tests.Support;

namespace AotKvs.Tests.Linearizability;

/// <summary>
/// One client's keep-alive HTTP/1.1 connection to one instance, on a plain socket. Unlike
/// HttpClient it never retries a request on its own, so each recorded operation was sent
/// at most once; any failure after sending makes the outcome unknown.
/// </summary>
public sealed class HttpKvsTarget(string name, int port, string host = "127.0.0.1") : IKvsTarget
{
    private RawConnection? _connection;

    public string Name => name;

    public Task<Reply> PutAsync(string key, long value, CancellationToken cancel) =>
        SendAsync(OpKind.Put, key, $$"""{"value": {{value}}}""", cancel);

    public Task<Reply> GetAsync(string key, CancellationToken cancel) => SendAsync(OpKind.Get, key, null, cancel);

    public Task<Reply> DeleteAsync(string key, CancellationToken cancel) => SendAsync(OpKind.Delete, key, null, cancel);

    private async Task<Reply> SendAsync(OpKind kind, string key, string? body, CancellationToken cancel)
    {
        if (_connection is null)
        {
            try
            {
                _connection = await RawConnection.OpenAsync(host, port, cancel);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                return Reply.NotSent;
            }
        }

        var method = kind.ToString().ToUpperInvariant();
        var head = $"{method} /kvs/{key} HTTP/1.1\r\nHost: {host}:{port}\r\n" +
                   (body is null ? "\r\n" : $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}");
        try
        {
            await _connection.SendAsync(head, cancel);
            var answer = await _connection.ReadAnswerAsync(cancel);
            if (answer.Headers.TryGetValue("Connection", out var connection) && connection.Contains("close", StringComparison.OrdinalIgnoreCase))
                Drop();
            // The request was sent: it may have taken effect whatever came back.
            return AnswerMeaning.Interpret(kind, answer.Status, answer.Text);
        }
        catch (MalformedAnswerException e)
        {
            Drop();
            return Reply.Unexpected($"{kind}: garbled answer head: {e.Message}");
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
        {
            Drop();
            return new Reply(OpOutcome.Unknown);
        }
    }

    private void Drop()
    {
        _connection?.Dispose();
        _connection = null;
    }

    public void Dispose() => Drop();
}
