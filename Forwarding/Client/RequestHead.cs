using System.Buffers;
using System.Text;
using AotKvs.Protocol;
using Microsoft.Extensions.Primitives;

namespace AotKvs.Forwarding.Client;

/// <summary>
/// The bytes of a request to main: "METHOD target HTTP/1.1", Host, Via (what was received,
/// then our entry), the request's <see cref="ExchangeTag"/>, Connection: close for a main not
/// known to echo tags, the client's <see cref="RelayedRequestHeaders"/>, Content-Type and
/// Content-Length when there is a body. The constant
/// parts are encoded once. The target is written exactly as the client sent it.
/// </summary>
internal sealed class RequestHead
{
    private readonly byte[] _versionHostVia;   // " HTTP/1.1\r\nHost: main:port\r\nVia: "
    private readonly byte[] _ownEntry;         // "1.1 aotkvs-...\r\n"
    private static readonly byte[] TagName = Encoding.ASCII.GetBytes(ExchangeTag.Name + ": ");

    /// <param name="host">main's host:port, for the Host field.</param>
    /// <param name="viaEntry">This forwarder's own Via entry, appended after what was received.</param>
    public RequestHead(string host, string viaEntry)
    {
        _versionHostVia = Encoding.ASCII.GetBytes($" HTTP/1.1\r\nHost: {host}\r\nVia: ");
        _ownEntry = Encoding.ASCII.GetBytes(viaEntry + "\r\n");
    }

    /// <summary>
    /// Writes the head into a buffer rented from the shared pool (the caller returns it),
    /// followed by the body when <paramref name="bodyInline"/>: small requests go as one
    /// buffer, large bodies are sent from where they already are.
    /// </summary>
    public byte[] Write(string method, string pathAndQuery, StringValues receivedVia, RelayedRequestHeaders relayed, string? contentType,
        ReadOnlySpan<byte> body, bool hasBody, ulong tag, bool keepAlive, bool bodyInline, out int length)
    {
        var size = method.Length + Encoding.UTF8.GetByteCount(pathAndQuery) + _versionHostVia.Length + _ownEntry.Length + 3
            + TagName.Length + ExchangeTag.Digits + 2 + "Connection: close\r\n".Length + relayed.Length;
        foreach (var entry in receivedVia)
            size += Encoding.UTF8.GetByteCount(entry ?? "") + 2;
        if (contentType is not null)
            size += "Content-Type: \r\n".Length + Encoding.UTF8.GetByteCount(contentType);
        if (hasBody)
            size += "Content-Length: \r\n".Length + 10 + (bodyInline ? body.Length : 0);

        var buffer = ArrayPool<byte>.Shared.Rent(size);
        var span = buffer.AsSpan();
        var at = Encoding.ASCII.GetBytes(method, span);
        span[at++] = (byte)' ';
        at += Encoding.UTF8.GetBytes(pathAndQuery, span[at..]);
        at += Append(span[at..], _versionHostVia);
        foreach (var entry in receivedVia)
        {
            at += Encoding.UTF8.GetBytes(entry ?? "", span[at..]);
            at += Append(span[at..], ", "u8);
        }
        at += Append(span[at..], _ownEntry);
        at += Append(span[at..], TagName);
        at += ExchangeTag.Write(tag, span[at..]);
        at += Append(span[at..], "\r\n"u8);
        if (!keepAlive)
            at += Append(span[at..], "Connection: close\r\n"u8);
        at += relayed.Write(span[at..]);
        if (contentType is not null)
        {
            at += Append(span[at..], "Content-Type: "u8);
            at += Encoding.UTF8.GetBytes(contentType, span[at..]);
            at += Append(span[at..], "\r\n"u8);
        }
        if (hasBody)
        {
            at += Append(span[at..], "Content-Length: "u8);
            body.Length.TryFormat(span[at..], out var digits);
            at += digits;
            at += Append(span[at..], "\r\n"u8);
        }
        at += Append(span[at..], "\r\n"u8);
        if (hasBody && bodyInline)
            at += Append(span[at..], body);
        length = at;
        return buffer;
    }

    private static int Append(Span<byte> to, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(to);
        return bytes.Length;
    }
}
