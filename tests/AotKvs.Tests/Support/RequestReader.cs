using System.Text;

namespace AotKvs.Tests.Support;

/// <summary>
/// One request as a stand-in main read it. <paramref name="HeaderLines"/> are the header
/// field lines exactly as received, in order (duplicates kept); <paramref name="Headers"/>
/// is the same fields by name, repeated ones joined with ", ".
/// </summary>
public sealed record MainRequest(string Method, string Target, string Version, IReadOnlyDictionary<string, string> Headers, byte[] Body,
    IReadOnlyList<string> HeaderLines)
{
    /// <summary>The request line as received (method, target and version, one space apart).</summary>
    public string RequestLine => $"{Method} {Target} {Version}";

    /// <summary>The request line and the header lines, as received, without the blank line.</summary>
    public string Head => string.Join("\r\n", HeaderLines.Prepend(RequestLine));

    /// <summary>The body as UTF-8 text.</summary>
    public string BodyText => Encoding.UTF8.GetString(Body);

    /// <summary>
    /// True when the request was already whole in the reader's buffer when it was asked for:
    /// it came in the same reads as the one before it (pipelined), not after it.
    /// </summary>
    public bool Buffered { get; init; }
}

/// <summary>Bytes that are not an HTTP/1.1 request a stand-in main can frame.</summary>
public sealed class MalformedRequestException(string what) : FormatException(what);

/// <summary>
/// The request side of every stand-in main (<see cref="FakeMain"/>, <see cref="BrokenMain"/>,
/// <see cref="MisbehavingMain"/>, the forwarder tests' scripted main): frames requests out of
/// the bytes of one connection: request line, header fields, then a Content-Length or
/// chunked body. Blank lines before a request line are skipped (RFC 9112 §2.2). Bytes can be
/// given to it (<see cref="Append"/>, <see cref="TryTake"/>) or it reads them from the
/// connection itself (<see cref="ReadAsync"/>); what follows a request stays buffered for the next.
/// </summary>
public sealed class RequestReader
{
    private const int MaxHead = 64 * 1024;
    private byte[] _buffer = new byte[16 * 1024];
    private byte[]? _receive;
    private int _start;
    private int _end;
    private bool _readSinceTake;

    public void Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
            return;
        if (_end + bytes.Length > _buffer.Length)
        {
            var kept = _end - _start;
            var bigger = kept + bytes.Length > _buffer.Length ? new byte[Math.Max(_buffer.Length * 2, kept + bytes.Length)] : _buffer;
            _buffer.AsSpan(_start, kept).CopyTo(bigger);
            _buffer = bigger;
            _start = 0;
            _end = kept;
        }
        bytes.CopyTo(_buffer.AsSpan(_end));
        _end += bytes.Length;
        _readSinceTake = true;
    }

    /// <summary>Takes the first whole request in the buffer, if there is one.</summary>
    public bool TryTake(out MainRequest? request)
    {
        if (!TryFrame(out request, out var consumed))
            return false;
        request = request! with { Buffered = !_readSinceTake };
        _readSinceTake = false;
        _start += consumed;
        if (_start == _end)
            _start = _end = 0;
        return true;
    }

    /// <summary>Is a whole request already in the buffer (read, not taken)?</summary>
    public bool HasWholeRequest => TryFrame(out _, out _);

    /// <summary>
    /// The next request on the connection: from the buffer if it is whole there, else after
    /// as many reads as it takes; null when the peer closed its side before a whole request.
    /// </summary>
    public async Task<MainRequest?> ReadAsync(Stream stream, CancellationToken cancel)
    {
        _receive ??= new byte[64 * 1024];
        while (true)
        {
            if (TryTake(out var request))
                return request;
            var n = await stream.ReadAsync(_receive, cancel);
            if (n == 0)
                return null;
            Append(_receive.AsSpan(0, n));
        }
    }

    private bool TryFrame(out MainRequest? request, out int consumed)
    {
        request = null;
        consumed = 0;
        var data = _buffer.AsSpan(_start, _end - _start);
        var skipped = 0;
        while (data.Length - skipped >= 2 && data[skipped] == '\r' && data[skipped + 1] == '\n')
            skipped += 2;
        data = data[skipped..];
        var end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            if (data.Length > MaxHead)
                throw new MalformedRequestException("request head too large");
            return false;
        }
        var lines = Encoding.Latin1.GetString(data[..end]).Split("\r\n");
        var parts = lines[0].Split(' ');
        if (parts.Length != 3 || parts[0].Length == 0 || parts[1].Length == 0 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            throw new MalformedRequestException("bad request line: " + lines[0]);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0)
                throw new MalformedRequestException("bad header line: " + line);
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(' ', '\t');
            headers[name] = headers.TryGetValue(name, out var earlier) ? earlier + ", " + value : value;
        }

        var bodyStart = end + 4;
        byte[] body;
        int length;
        if (headers.TryGetValue("Transfer-Encoding", out var coding) && coding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            if (!TryDechunk(data[bodyStart..], out body, out var chunked))
                return false;
            length = chunked;
        }
        else
        {
            length = 0;
            if (headers.TryGetValue("Content-Length", out var text) && !int.TryParse(text, System.Globalization.NumberStyles.None, null, out length))
                throw new MalformedRequestException("bad Content-Length: " + text);
            if (data.Length - bodyStart < length)
                return false;
            body = data.Slice(bodyStart, length).ToArray();
        }
        consumed = skipped + bodyStart + length;
        request = new MainRequest(parts[0], parts[1], parts[2], headers, body, lines[1..]);
        return true;
    }

    private static bool TryDechunk(ReadOnlySpan<byte> data, out byte[] body, out int consumed)
    {
        body = [];
        consumed = 0;
        var collected = new MemoryStream();
        var at = 0;
        while (true)
        {
            var lineEnd = data[at..].IndexOf("\r\n"u8);
            if (lineEnd < 0)
                return false;
            var sizeText = Encoding.Latin1.GetString(data.Slice(at, lineEnd)).Split(';')[0].Trim();
            if (!int.TryParse(sizeText, System.Globalization.NumberStyles.AllowHexSpecifier, null, out var size) || size < 0)
                throw new MalformedRequestException("bad chunk size: " + sizeText);
            at += lineEnd + 2;
            if (size == 0)
                break;
            if (data.Length - at < size + 2)
                return false;
            collected.Write(data.Slice(at, size));
            at += size + 2;
        }
        // Trailer fields, up to the blank line.
        while (true)
        {
            var lineEnd = data[at..].IndexOf("\r\n"u8);
            if (lineEnd < 0)
                return false;
            at += lineEnd + 2;
            if (lineEnd == 0)
                break;
        }
        body = collected.ToArray();
        consumed = at;
        return true;
    }
}
