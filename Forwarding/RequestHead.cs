using System.Buffers;
using System.Text;
using Microsoft.Extensions.Primitives;

namespace AotKvs.Forwarding;

/// <summary>
/// The bytes of a request to main: "METHOD target HTTP/1.1", Host, Via (what was received,
/// then our entry), Content-Type and Content-Length when there is a body, then the body.
/// The constant parts are encoded once. The target is written exactly as the client sent it.
/// </summary>
internal sealed class RequestHead
{
    private readonly byte[] _versionHostVia;   // " HTTP/1.1\r\nHost: main:port\r\nVia: "
    private readonly byte[] _ownEntry;         // "1.1 aotkvs-...\r\n"

    public RequestHead(string host, ViaHeader via)
    {
        _versionHostVia = Encoding.ASCII.GetBytes($" HTTP/1.1\r\nHost: {host}\r\nVia: ");
        _ownEntry = Encoding.ASCII.GetBytes(via.Entry + "\r\n");
    }

    /// <summary>Writes the whole request into a buffer rented from the shared pool; the caller returns it.</summary>
    public byte[] Write(string method, string pathAndQuery, StringValues receivedVia, string? contentType, ReadOnlyMemory<byte>? body, out int length)
    {
        var size = method.Length + Encoding.UTF8.GetByteCount(pathAndQuery) + _versionHostVia.Length + _ownEntry.Length + 3;
        foreach (var entry in receivedVia)
            size += Encoding.UTF8.GetByteCount(entry ?? "") + 2;
        if (contentType is not null)
            size += "Content-Type: \r\n".Length + Encoding.UTF8.GetByteCount(contentType);
        if (body is { } content)
            size += "Content-Length: \r\n".Length + 10 + content.Length;

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
        if (contentType is not null)
        {
            at += Append(span[at..], "Content-Type: "u8);
            at += Encoding.UTF8.GetBytes(contentType, span[at..]);
            at += Append(span[at..], "\r\n"u8);
        }
        if (body is { } bytes)
        {
            at += Append(span[at..], "Content-Length: "u8);
            bytes.Length.TryFormat(span[at..], out var digits);
            at += digits;
            at += Append(span[at..], "\r\n\r\n"u8);
            at += Append(span[at..], bytes.Span);
        }
        else
        {
            at += Append(span[at..], "\r\n"u8);
        }
        length = at;
        return buffer;
    }

    private static int Append(Span<byte> to, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(to);
        return bytes.Length;
    }
}
