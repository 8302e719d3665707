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

    public Task<Reply> PutAsync(string key, long value, WriteCondition condition, CancellationToken cancel) =>
        SendAsync(OpKind.Put, key, $$"""{"value": {{value}}}""", condition, cancel);

    public Task<Reply> GetAsync(string key, CancellationToken cancel) => SendAsync(OpKind.Get, key, null, default, cancel);

    public Task<Reply> DeleteAsync(string key, WriteCondition condition, CancellationToken cancel) => SendAsync(OpKind.Delete, key, null, condition, cancel);

    private async Task<Reply> SendAsync(OpKind kind, string key, string? body, WriteCondition condition, CancellationToken cancel)
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
                   (condition.IfMatch is { } ifMatch ? $"If-Match: {ifMatch}\r\n" : "") +
                   (condition.IfNoneMatch is { } ifNoneMatch ? $"If-None-Match: {ifNoneMatch}\r\n" : "") +
                   (body is null ? "\r\n" : $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}");
        try
        {
            await _connection.SendAsync(head, cancel);
            var answer = await _connection.ReadAnswerAsync(cancel);
            if (answer.Headers.TryGetValue("Connection", out var connection) && connection.Contains("close", StringComparison.OrdinalIgnoreCase))
                Drop();
            // The request was sent: it may have taken effect whatever came back.
            return AnswerMeaning.Interpret(kind, answer.Status, answer.Text,
                answer.Headers.TryGetValue("ETag", out var etag) ? etag : null, conditional: condition != WriteCondition.None);
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
