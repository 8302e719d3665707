using System.Buffers.Text;
using System.Text;
using AotKvs.Protocol;

namespace AotKvs.Forwarding.Client;

/// <summary>What an answer head from main says, as far as the forwarder cares.</summary>
internal struct AnswerHead
{
    public int Status;
    /// <summary>-1 when the head carries no Content-Length.</summary>
    public long ContentLength;
    public bool Chunked;
    /// <summary>Main said Connection: close, or spoke HTTP/1.0 without keep-alive.</summary>
    public bool Close;
    public string? ContentType;
    public string? Allow;
    /// <summary>One entity-tag (RFC 9110 §8.8.3), ASCII, as main wrote it.</summary>
    public string? ETag;
    /// <summary>Main's Preference-Applied (RFC 7240 §3), ASCII, as main wrote it.</summary>
    public string? PreferenceApplied;
    /// <summary>The <see cref="ExchangeTag"/> main echoed, or <see cref="ExchangeTag.None"/>.</summary>
    public ulong Tag;
}

/// <summary>
/// Strict HTTP/1.1 answer parsing (RFC 9112): status line, header fields, Content-Length and
/// chunked framing. Anything ambiguous (two different lengths, a length beside chunked, an
/// unknown transfer coding, folded or nameless lines, a head beyond the budget) is refused
/// as an invalid answer rather than guessed at: the client then gets the usual 503. What is
/// relayed (Content-Type, Allow, ETag, Preference-Applied) must be ASCII: the server refuses to write anything
/// else, and an answer it cannot relay is refused here instead of becoming an empty 500.
/// </summary>
internal static class AnswerParser
{
    /// <summary>The most an answer head (status line and fields, interim 1xx heads included) may take.</summary>
    public const int MaxHeadBytes = 64 * 1024;

    private const string Json = "application/json";

    /// <summary>
    /// The longest ETag relayed. Main's are at most 35 bytes ("scope-version" with a 16-digit
    /// scope and version, quoted); room to spare, but not room for a client to be sent a flood.
    /// </summary>
    public const int MaxETagBytes = 256;

    /// <summary>
    /// The longest Preference-Applied relayed. Main's is "wait=" and at most 5 digits; room to
    /// spare, bounded like <see cref="MaxETagBytes"/>.
    /// </summary>
    public const int MaxPreferenceAppliedBytes = 256;

    /// <summary>
    /// Parses one head at the start of <paramref name="buffer"/>. False when the blank line
    /// that ends it has not arrived yet; <paramref name="consumed"/> is then 0.
    /// </summary>
    public static bool TryParseHead(ReadOnlySpan<byte> buffer, out AnswerHead head, out int consumed)
    {
        head = default;
        consumed = 0;
        var end = buffer.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            if (buffer.Length > MaxHeadBytes)
                throw Invalid("answer head too large");
            return false;
        }
        if (end + 4 > MaxHeadBytes)
            throw Invalid("answer head too large");

        var lines = buffer[..(end + 2)];
        var lineEnd = lines.IndexOf("\r\n"u8);
        var keepAliveByDefault = ParseStatusLine(lines[..lineEnd], out head.Status);
        head.ContentLength = -1;
        head.Close = !keepAliveByDefault;
        lines = lines[(lineEnd + 2)..];
        StringBuilder? allow = null; // a second Allow field on: joined once, not a new string each time
        while (!lines.IsEmpty)
        {
            lineEnd = lines.IndexOf("\r\n"u8);
            ParseField(lines[..lineEnd], ref head, ref allow, keepAliveByDefault);
            lines = lines[(lineEnd + 2)..];
        }
        if (allow is not null)
            head.Allow = allow.ToString();
        if (head.Chunked && head.ContentLength >= 0)
            throw Invalid("both Content-Length and chunked");
        consumed = end + 4;
        return true;
    }

    /// <summary>"HTTP/1.1 200 OK": true for HTTP/1.1 (keep-alive unless told otherwise), false for HTTP/1.0.</summary>
    private static bool ParseStatusLine(ReadOnlySpan<byte> line, out int status)
    {
        // HTTP-version SP 3DIGIT SP [reason]; some servers omit the space before an empty reason.
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || line[8] != (byte)' '
            || (line.Length > 12 && line[12] != (byte)' ')
            || !IsDigit(line[9]) || !IsDigit(line[10]) || !IsDigit(line[11]))
            throw Invalid("bad status line");
        status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        if (status is < 100 or > 599)
            throw Invalid("bad status code");
        foreach (var b in line[12..])
            if (b is < 0x20 and not (byte)'\t' or 0x7F)
                throw Invalid("control character in reason");
        return line[7] switch
        {
            (byte)'1' => true,
            (byte)'0' => false,
            _ => throw Invalid("unsupported HTTP version"),
        };
    }

    private static void ParseField(ReadOnlySpan<byte> line, ref AnswerHead head, ref StringBuilder? allow, bool keepAliveByDefault)
    {
        var colon = line.IndexOf((byte)':');
        // No obs-fold, no empty name, no whitespace between name and colon (RFC 9112 §5.1-5.2).
        if (colon <= 0 || line[0] is (byte)' ' or (byte)'\t' || line[colon - 1] is (byte)' ' or (byte)'\t')
            throw Invalid("bad header line");
        var name = line[..colon];
        var value = line[(colon + 1)..].Trim(" \t"u8);
        foreach (var b in value)
            if (b is < 0x20 and not (byte)'\t' or 0x7F)
                throw Invalid("control character in header value");

        if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
        {
            // Digits only; a list of equal values is tolerated (RFC 9112 §6.3), differing ones are not.
            foreach (var part in new CommaList(value))
            {
                if (part.IsEmpty || part.Length > 15 || part.ContainsAnyExceptInRange((byte)'0', (byte)'9')
                    || !Utf8Parser.TryParse(part, out long length, out _))
                    throw Invalid("bad Content-Length");
                if (head.ContentLength >= 0 && head.ContentLength != length)
                    throw Invalid("conflicting Content-Length");
                head.ContentLength = length;
            }
        }
        else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
        {
            // Only "chunked" itself: main never compresses, and any other coding is one we cannot frame.
            if (head.Chunked || !Ascii.EqualsIgnoreCase(value, "chunked"u8))
                throw Invalid("unsupported Transfer-Encoding");
            head.Chunked = true;
        }
        else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
        {
            foreach (var option in new CommaList(value))
            {
                if (Ascii.EqualsIgnoreCase(option, "close"u8))
                    head.Close = true;
                else if (!keepAliveByDefault && Ascii.EqualsIgnoreCase(option, "keep-alive"u8))
                    head.Close = false;
            }
        }
        else if (Ascii.EqualsIgnoreCase(name, "Content-Type"u8))
        {
            head.ContentType = value.SequenceEqual("application/json"u8) ? Json : Relayable(value);
        }
        else if (Ascii.EqualsIgnoreCase(name, "Allow"u8))
        {
            var text = Relayable(value);
            if (head.Allow is null)
                head.Allow = text;
            else
                (allow ??= new StringBuilder(head.Allow)).Append(", ").Append(text);
        }
        else if (Ascii.EqualsIgnoreCase(name, "ETag"u8))
        {
            // A singleton field: a second one, or anything but one entity-tag, says nothing we could relay.
            if (head.ETag is not null || !IsEntityTag(value))
                throw Invalid("bad ETag");
            head.ETag = Encoding.ASCII.GetString(value);
        }
        else if (Ascii.EqualsIgnoreCase(name, "Preference-Applied"u8))
        {
            // Like ETag: one field, well formed, or the answer says nothing we could relay.
            if (head.PreferenceApplied is not null || !IsPreferenceList(value))
                throw Invalid("bad Preference-Applied");
            head.PreferenceApplied = Encoding.ASCII.GetString(value);
        }
        else if (Ascii.EqualsIgnoreCase(name, ExchangeTag.Name))
        {
            // One tag, well formed: a second one, or a garbled one, ties the answer to nothing.
            if (head.Tag != ExchangeTag.None || !ExchangeTag.TryParse(value, out head.Tag))
                throw Invalid("bad Kvs-Tag");
        }
    }

    /// <summary>A value to set on our own answer: printable ASCII only (obs-text is legal, but not relayable).</summary>
    private static string Relayable(ReadOnlySpan<byte> value)
    {
        if (!Ascii.IsValid(value))
            throw Invalid("non-ASCII byte in a relayed header value");
        return Encoding.ASCII.GetString(value);
    }

    /// <summary>
    /// entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E (obs-text left
    /// out: not relayable), at most <see cref="MaxETagBytes"/>.
    /// </summary>
    public static bool IsEntityTag(ReadOnlySpan<byte> value)
    {
        if (value.Length > MaxETagBytes)
            return false;
        if (value.StartsWith("W/"u8))
            value = value[2..];
        if (value.Length < 2 || value[0] != (byte)'"' || value[^1] != (byte)'"')
            return false;
        foreach (var b in value[1..^1])
            if (b is < 0x21 or > 0x7E or (byte)'"')
                return false;
        return true;
    }

    /// <summary>
    /// Preference-Applied = 1#( token [ BWS "=" BWS word ] ) (RFC 7240 §3), word = token or
    /// quoted-string; empty elements are allowed around at least one. ASCII only (obs-text
    /// left out: not relayable), at most <see cref="MaxPreferenceAppliedBytes"/>.
    /// </summary>
    public static bool IsPreferenceList(ReadOnlySpan<byte> value)
    {
        if (value.Length > MaxPreferenceAppliedBytes)
            return false;
        var any = false;
        var at = 0;
        while (true)
        {
            at = SkipSpace(value, at);
            if (at == value.Length)
                return any;
            if (value[at] == (byte)',')
            {
                at++; // an empty element
                continue;
            }
            var name = at;
            at = SkipToken(value, at);
            if (at == name)
                return false;
            any = true;
            at = SkipSpace(value, at);
            if (at < value.Length && value[at] == (byte)'=')
            {
                at = SkipSpace(value, at + 1);
                var word = at;
                at = at < value.Length && value[at] == (byte)'"' ? SkipQuoted(value, at) : SkipToken(value, at);
                if (at <= word)
                    return false;
                at = SkipSpace(value, at);
            }
            if (at == value.Length)
                return true;
            if (value[at] != (byte)',')
                return false;
            at++;
        }
    }

    private static int SkipSpace(ReadOnlySpan<byte> value, int at)
    {
        while (at < value.Length && value[at] is (byte)' ' or (byte)'\t')
            at++;
        return at;
    }

    /// <summary>tchar = "!" / "#" / "$" / "%" / "&amp;" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA (RFC 9110 §5.6.2).</summary>
    private static int SkipToken(ReadOnlySpan<byte> value, int at)
    {
        while (at < value.Length && (char.IsAsciiLetterOrDigit((char)value[at]) || "!#$%&'*+-.^_`|~"u8.Contains(value[at])))
            at++;
        return at;
    }

    /// <summary>Past a quoted-string starting at <paramref name="at"/> (RFC 9110 §5.6.4, obs-text left out); -1 when it does not end.</summary>
    private static int SkipQuoted(ReadOnlySpan<byte> value, int at)
    {
        for (at++; at < value.Length; at++)
        {
            var b = value[at];
            if (b == (byte)'"')
                return at + 1;
            if (b == (byte)'\\' && ++at == value.Length)
                break;
            if (value[at] is < 0x20 and not (byte)'\t' or > 0x7E)
                return -1;
        }
        return -1;
    }

    /// <summary>
    /// The size line of a chunk ("1a;ext=x\r\n"). False when its line end has not arrived;
    /// <paramref name="consumed"/> covers the line with its CRLF.
    /// </summary>
    public static bool TryParseChunkSize(ReadOnlySpan<byte> buffer, out int size, out int consumed)
    {
        size = 0;
        consumed = 0;
        var lineEnd = buffer.IndexOf("\r\n"u8);
        if (lineEnd < 0)
        {
            if (buffer.Length > 1024)
                throw Invalid("chunk size line too long");
            return false;
        }
        var line = buffer[..lineEnd];
        var extension = line.IndexOf((byte)';');
        var digits = (extension < 0 ? line : line[..extension]).TrimEnd(" \t"u8);
        // At most 7 hex digits: no chunk from main comes near 256 MiB, and the sum stays an int.
        if (digits.IsEmpty || digits.Length > 7)
            throw Invalid("bad chunk size");
        foreach (var b in digits)
        {
            var digit = HexValue(b);
            if (digit < 0)
                throw Invalid("bad chunk size");
            size = size * 16 + digit;
        }
        consumed = lineEnd + 2;
        return true;
    }

    /// <summary>
    /// The trailer section after the last chunk, up to and including its blank line (usually
    /// just "\r\n"). False when it has not all arrived.
    /// </summary>
    public static bool TrySkipTrailers(ReadOnlySpan<byte> buffer, out int consumed)
    {
        consumed = 0;
        if (buffer.StartsWith("\r\n"u8))
        {
            consumed = 2;
            return true;
        }
        var end = buffer.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            if (buffer.Length > MaxHeadBytes)
                throw Invalid("trailers too large");
            return false;
        }
        consumed = end + 4;
        return true;
    }

    public static HttpRequestException Invalid(string what) =>
        new(HttpRequestError.InvalidResponse, $"invalid answer from main: {what}");

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    /// <summary>The comma-separated elements of a field value, trimmed, empty ones included.</summary>
    private ref struct CommaList(ReadOnlySpan<byte> value)
    {
        private ReadOnlySpan<byte> _rest = value;
        private bool _done;

        public ReadOnlySpan<byte> Current { get; private set; }

        public readonly CommaList GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_done)
                return false;
            var comma = _rest.IndexOf((byte)',');
            if (comma < 0)
            {
                Current = _rest.Trim(" \t"u8);
                _done = true;
                return true;
            }
            Current = _rest[..comma].Trim(" \t"u8);
            _rest = _rest[(comma + 1)..];
            return true;
        }
    }
}
