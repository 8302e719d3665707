using System.Text;
using Microsoft.Extensions.Primitives;

namespace AotKvs.Forwarding.Client;

/// <summary>
/// The request headers passed to main unchanged: every line of each, in the order received,
/// each value as the server decoded it (and written back in the same UTF-8). If-Match and
/// If-None-Match (RFC 9110 §13.1.1, §13.1.2): only main knows the current version, so only
/// main evaluates them; a forwarder that read them could only get them wrong. Prefer
/// (RFC 7240) and Kvs-Ttl: what to wait for and how long a value lives are main's to decide
/// (the forwarder reads Prefer only to give a wait its own connection and a longer bound).
/// Relaying one more header is one more name in <see cref="Names"/>.
/// </summary>
internal readonly struct RelayedRequestHeaders
{
    /// <summary>The headers relayed, in the order they are written to main.</summary>
    private static readonly string[] Names = ["If-Match", "If-None-Match", "Prefer", "Kvs-Ttl"];

    /// <summary>"Name: " for each of <see cref="Names"/>, encoded once.</summary>
    private static readonly byte[][] Prefixes = Array.ConvertAll(Names, name => Encoding.ASCII.GetBytes(name + ": "));

    private readonly IHeaderDictionary? _headers;

    /// <summary>Reads what <paramref name="headers"/> (a request's) carries of the relayed headers; <c>default</c> relays none.</summary>
    public RelayedRequestHeaders(IHeaderDictionary headers)
    {
        _headers = headers;
        for (var i = 0; i < Names.Length; i++)
        {
            var lines = headers[Names[i]];
            Lines += lines.Count;
            Length += Measure(Prefixes[i], lines);
        }
    }

    /// <summary>How many lines they take in the head sent to main.</summary>
    public int Lines { get; }

    /// <summary>The bytes they add to the head sent to main: names, values and line ends.</summary>
    public int Length { get; }

    /// <summary>Writes every line into <paramref name="to"/>; returns the bytes written (<see cref="Length"/>).</summary>
    public int Write(Span<byte> to)
    {
        if (_headers is null)
            return 0;
        var at = 0;
        for (var i = 0; i < Names.Length; i++)
            at += Write(to[at..], Prefixes[i], _headers[Names[i]]);
        return at;
    }

    private static int Measure(ReadOnlySpan<byte> name, StringValues lines)
    {
        var length = 0;
        foreach (var line in lines)
            length += name.Length + Encoding.UTF8.GetByteCount(line ?? "") + 2;
        return length;
    }

    private static int Write(Span<byte> to, ReadOnlySpan<byte> name, StringValues lines)
    {
        var at = 0;
        foreach (var line in lines)
        {
            name.CopyTo(to[at..]);
            at += name.Length;
            at += Encoding.UTF8.GetBytes(line ?? "", to[at..]);
            "\r\n"u8.CopyTo(to[at..]);
            at += 2;
        }
        return at;
    }
}
