using System.Buffers.Text;

namespace AotKvs.Protocol;

/// <summary>
/// Ties an answer to its request across a connection that carries many. A forwarder sends
/// each request to main with <c>Kvs-Tag: &lt;16 hex digits&gt;</c>, unique per request, and
/// every instance (main, or a forwarder further down a chain) echoes a well-formed tag on its
/// answer. The forwarder relays an answer only when it carries its own request's tag, so a
/// stray, repeated or reordered answer is caught instead of handed to the wrong client; a
/// main that never echoes is not AotKvs and gets one request per connection. Requests
/// without the header (every client's) are answered exactly as before.
/// </summary>
internal static class ExchangeTag
{
    public const string Name = "Kvs-Tag";

    /// <summary>Hex digits in a tag: a 64-bit counter, written at a fixed width.</summary>
    public const int Digits = 16;

    /// <summary>No tag: the counter starts at 1, so 0 is never sent.</summary>
    public const ulong None = 0;

    /// <summary>On the answer, the tag the request carried, if it is one of ours.</summary>
    public static void Echo(HttpContext context)
    {
        var tag = context.Request.Headers[Name];
        if (tag.Count == 1 && tag[0] is { Length: Digits } value && value.AsSpan().ContainsAnyExcept(HexDigits) is false)
            context.Response.Headers[Name] = tag;
    }

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    /// <summary>Exactly <see cref="Digits"/> hex digits read off the wire; false for anything else.</summary>
    public static bool TryParse(ReadOnlySpan<byte> text, out ulong tag)
    {
        tag = None;
        return text.Length == Digits && Utf8Parser.TryParse(text, out tag, out var consumed, 'X') && consumed == Digits;
    }

    /// <summary>Writes <paramref name="tag"/> as <see cref="Digits"/> lower-case hex digits.</summary>
    public static int Write(ulong tag, Span<byte> into)
    {
        tag.TryFormat(into, out var written, "x16");
        return written;
    }
}
