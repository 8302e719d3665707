using System.Text;
using Microsoft.Extensions.Primitives;

namespace AotKvs.Forwarding.Client;

/// <summary>
/// A request's If-Match and If-None-Match lines (RFC 9110 §13.1.1, §13.1.2), passed to main
/// unchanged: every line, in the order received, each value as the server decoded it (and
/// written back in the same UTF-8). Only main knows the current version, so only main
/// evaluates them; a forwarder that read them could only get them wrong.
/// </summary>
internal readonly struct ConditionalHeaders(StringValues ifMatch, StringValues ifNoneMatch)
{
    private static ReadOnlySpan<byte> IfMatchName => "If-Match: "u8;
    private static ReadOnlySpan<byte> IfNoneMatchName => "If-None-Match: "u8;

    /// <summary>How many lines they take in the head sent to main.</summary>
    public int Lines => ifMatch.Count + ifNoneMatch.Count;

    /// <summary>The bytes they add to the head sent to main: names, values and line ends.</summary>
    public int Length => Measure(IfMatchName, ifMatch) + Measure(IfNoneMatchName, ifNoneMatch);

    /// <summary>Writes every line into <paramref name="to"/>; returns the bytes written (<see cref="Length"/>).</summary>
    public int Write(Span<byte> to)
    {
        var at = Write(to, IfMatchName, ifMatch);
        return at + Write(to[at..], IfNoneMatchName, ifNoneMatch);
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
