using System.Text;
using AotKvs.Forwarding.Client;
using Xunit.Abstractions;
using Xunit;

namespace AotKvs.Tests.Fuzz;

/// <summary>
/// The forwarder's reading of main's answers (TryParseHead, TryParseChunkSize,
/// TrySkipTrailers), fuzzed as the forwarder drives them: interim heads, then the final
/// head, then its chunks and trailers, all from one buffer; and each reader on the raw input.
/// </summary>
[Collection(FuzzCollection.Name), Trait("Category", "Unit")]
public sealed class AnswerParserFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] Corpus =
    [
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
        "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nAllow: PUT\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", // a HEAD answer: a length and no body
        "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 205 Reset Content\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=caf\u00e9\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nAllow: GET, \u00ff\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1a;name=value;x=\"q\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0;last\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\nfffffff\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 999 Nope\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
        "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\n\r\n",
        "HTTP/1.1 200\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: no name\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Bad: a\0b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5",
        "HTTP/1.1 200 OK\r\nETag: \"0123456789abcdef-1f\"\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 304 Not Modified\r\nETag: W/\"x\"\r\n\r\n",
        "HTTP/1.1 412 Precondition Failed\r\nETag: \"a\"\r\netag: \"a\"\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nETag: \"caf\u00e9\"\r\n\r\n",
        "0\r\n\r\n",
        "ff \r\n",
        "X-Trailer: 1\r\n\r\n",
        "\r\n",
        "",
    ];

    private static readonly string[] Names =
        ["Content-Length", "content-length", "CONTENT-LENGTH", "Transfer-Encoding", "transfer-encoding", "Connection",
         "Content-Type", "content-type", "Allow", "allow", "Date", "Server", "Via", "X-Kvs", "Kvs-Tag", "Link", "Set-Cookie", "Trailer",
         "ETag", "etag", "ETAG"];

    private static readonly string[] Values =
        ["0", "5", "5, 5", "5, 6", "+5", "-1", "0x10", "", " ", "1234567890123456", "999999999999999", "007",
         "chunked", "Chunked", "gzip, chunked", "chunked, chunked", "identity", "close", "keep-alive", "keep-alive, close",
         "Upgrade", "00000000000000ff", "0000000000000000", "ffffffffffffffffff", "application/json", "text/plain; charset=caf\u00e9", "GET, HEAD", "PUT, DELETE", "\u00ff\u00fe", "a\tb",
         "\"0123456789abcdef-1f\"", "W/\"x\"", "\"\"", "\"", "\"a\", \"b\"", "w/\"a\"", "\"a b\"", "\"caf\u00e9\"", "*", "\"!#~\""];

    private static readonly int[] Statuses = [100, 101, 103, 199, 200, 201, 204, 205, 304, 400, 404, 405, 413, 500, 503, 599, 600, 999, 99, 0];

    private static readonly byte[][] Dictionary =
        [.. new[] { "HTTP/1.1 ", "HTTP/1.0 ", "HTTP/2 ", "\r\n", "\r\n\r\n", ": ", " :", "\r\n ", "Content-Length: ", "Transfer-Encoding: chunked\r\n",
            "Connection: close\r\n", "Allow: GET\r\n", "Content-Type: ", "ETag: \"", "W/\"", ";ext=1", "0\r\n\r\n", "HTTP/1.1 100 Continue\r\n\r\n", "fffffff", "10000000" }
            .Select(Encoding.Latin1.GetBytes)];

    internal static readonly FuzzTarget Target = new(
        "AnswerParser", [.. Corpus.Select(Encoding.Latin1.GetBytes)], Generate, Check)
    {
        Dictionary = Dictionary,
        MaxInputBytes = AnswerParser.MaxHeadBytes + 4096, // room to cross the head budget
    };

    [Fact]
    public void Answer_heads_chunk_sizes_and_trailers_return_or_refuse_cleanly()
    {
        var result = Fuzzer.Run(Target);
        output.WriteLine(result.Summary);
        result.AssertClean(nameof(AnswerParserFuzzTests));
    }

    /// <summary>
    /// Found by this fuzzer: repeated Allow fields were joined as they came, a new string
    /// each time, so a head of 5,000 "Allow: GET" lines (64 KiB) allocated 130 MB or so.
    /// </summary>
    [Fact]
    public void A_flood_of_Allow_fields_allocates_in_proportion_to_the_head()
    {
        var lines = string.Concat(Enumerable.Repeat("Allow: GET\r\n", (AnswerParser.MaxHeadBytes - 100) / 12));
        var head = Encoding.Latin1.GetBytes("HTTP/1.1 405 Method Not Allowed\r\n" + lines + "\r\n");
        _ = AnswerParser.TryParseHead(head, out _, out _); // once for the JIT
        var before = GC.GetAllocatedBytesForCurrentThread();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(AnswerParser.TryParseHead(head, out var parsed, out _));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"{head.Length} bytes: {allocated} bytes allocated in {clock.Elapsed.TotalMilliseconds:F1} ms");
        Assert.Equal(string.Join(", ", Enumerable.Repeat("GET", (AnswerParser.MaxHeadBytes - 100) / 12)), parsed.Allow);
        Assert.True(allocated < 16 * head.Length, $"{allocated} bytes allocated for a head of {head.Length}");
    }

    /// <summary>A chunk size reader whose consumed count runs one past a size line at the end of the buffer.</summary>
    [Fact]
    public void The_oracle_catches_a_consumed_count_past_the_input()
    {
        var broken = Target with
        {
            Name = "AnswerParser (broken chunk size)",
            Oracle = (input, context) => Check(input, context, (ReadOnlySpan<byte> buffer, out int size, out int consumed) =>
            {
                var ok = AnswerParser.TryParseChunkSize(buffer, out size, out consumed);
                if (ok && consumed == buffer.Length)
                    consumed++;
                return ok;
            }),
        };
        var result = Fuzzer.Run(broken, new FuzzBudget(TimeSpan.FromSeconds(20), 20_000, Seed: 1));
        Assert.Equal(FuzzFailureKind.Exception, result.Failure?.Kind);
        Assert.Contains("consumed", result.Failure!.Detail, StringComparison.Ordinal);
    }

    private delegate bool ChunkSizeReader(ReadOnlySpan<byte> buffer, out int size, out int consumed);

    private static void Check(byte[] input, FuzzContext context) => Check(input, context, AnswerParser.TryParseChunkSize);

    private static void Check(byte[] input, FuzzContext context, ChunkSizeReader chunkSize)
    {
        using (context.Measure())
        {
            Stream(input, chunkSize);
            Refused(() => ChunkSize(input, chunkSize));
            Refused(() => Trailers(input));
        }
    }

    /// <summary>As the forwarder reads an answer: heads until a final one, then, if chunked, chunks and trailers.</summary>
    private static void Stream(byte[] input, ChunkSizeReader chunkSize)
    {
        var at = 0;
        AnswerHead head = default;
        for (var heads = 0; ; heads++)
        {
            if (!Refused(() => Head(input.AsSpan(at), out head), out var consumed) || consumed == 0)
                return;
            at += consumed;
            if (head.Status is >= 200 or 101)
                break;
            Assert.True(heads < input.Length, "more heads than bytes");
        }
        if (!head.Chunked)
            return;
        while (true)
        {
            var size = 0;
            if (!Refused(() => ChunkSize(input.AsSpan(at), chunkSize, out size), out var consumed) || consumed == 0)
                return;
            at += consumed;
            if (size == 0)
                break;
            if (input.Length - at < size + 2)
                return;
            at += size + 2;
        }
        Refused(() => Trailers(input.AsSpan(at)));
    }

    /// <summary>TryParseHead, and what must hold of its outcome; returns what it consumed.</summary>
    private static int Head(ReadOnlySpan<byte> buffer, out AnswerHead head)
    {
        var end = buffer.IndexOf("\r\n\r\n"u8);
        if (!AnswerParser.TryParseHead(buffer, out head, out var consumed))
        {
            Assert.Equal(0, consumed);
            Assert.True(end < 0, "false although the head's blank line is there");
            Assert.True(buffer.Length <= AnswerParser.MaxHeadBytes, "false for more than the head budget");
            return 0;
        }
        Assert.True(consumed > 0 && consumed <= buffer.Length, $"consumed {consumed} of {buffer.Length}");
        Assert.Equal(end + 4, consumed);
        Assert.True(consumed <= AnswerParser.MaxHeadBytes, "a head past the budget");
        Assert.InRange(head.Status, 100, 599);
        Assert.True(head.ContentLength >= -1, $"Content-Length {head.ContentLength}");
        Assert.False(head.Chunked && head.ContentLength >= 0, "both chunked and a length");
        if (head.ETag is { } etag)
        {
            // What is relayed is one entity-tag, printable ASCII, within the bound, and exactly its field's value.
            Assert.Matches("^(W/)?\"[\\x21\\x23-\\x7E]*\"$", etag);
            Assert.True(etag.Length <= AnswerParser.MaxETagBytes, $"an ETag of {etag.Length} bytes");
            Assert.True(buffer[..consumed].IndexOf(Encoding.ASCII.GetBytes(etag)) > 0, "an ETag that is not in the head");
        }
        // The head is read from its own bytes alone: what follows changes nothing, and before
        // its blank line has arrived it is not a head yet.
        Assert.True(AnswerParser.TryParseHead(buffer[..consumed], out var again, out var againConsumed));
        Assert.Equal((head.Status, head.ContentLength, head.Chunked, head.Close, head.ETag, consumed),
            (again.Status, again.ContentLength, again.Chunked, again.Close, again.ETag, againConsumed));
        Assert.False(AnswerParser.TryParseHead(buffer[..(consumed - 1)], out _, out _));
        return consumed;
    }

    private static int ChunkSize(ReadOnlySpan<byte> buffer, ChunkSizeReader chunkSize) => ChunkSize(buffer, chunkSize, out _);

    private static int ChunkSize(ReadOnlySpan<byte> buffer, ChunkSizeReader chunkSize, out int size)
    {
        var lineEnd = buffer.IndexOf("\r\n"u8);
        if (!chunkSize(buffer, out size, out var consumed))
        {
            Assert.Equal(0, consumed);
            Assert.True(lineEnd < 0, "false although the size line's end is there");
            Assert.True(buffer.Length <= 1024, "false for a size line past 1024 bytes");
            return 0;
        }
        Assert.True(consumed > 0 && consumed <= buffer.Length, $"consumed {consumed} of {buffer.Length}");
        Assert.Equal(lineEnd + 2, consumed);
        Assert.InRange(size, 0, 0xFFFFFFF);
        return consumed;
    }

    private static int Trailers(ReadOnlySpan<byte> buffer)
    {
        if (!AnswerParser.TrySkipTrailers(buffer, out var consumed))
        {
            Assert.Equal(0, consumed);
            Assert.True(!buffer.StartsWith("\r\n"u8) && buffer.IndexOf("\r\n\r\n"u8) < 0, "false although the trailers' end is there");
            Assert.True(buffer.Length <= AnswerParser.MaxHeadBytes, "false for more than the trailer budget");
            return 0;
        }
        Assert.True(consumed > 0 && consumed <= buffer.Length, $"consumed {consumed} of {buffer.Length}");
        Assert.Equal(buffer.StartsWith("\r\n"u8) ? 2 : buffer.IndexOf("\r\n\r\n"u8) + 4, consumed);
        return consumed;
    }

    private delegate int Reader();

    private static bool Refused(Reader read) => Refused(read, out _);

    /// <summary>Runs a reader; false when it refused the input as an invalid answer, the one exception allowed.</summary>
    private static bool Refused(Reader read, out int consumed)
    {
        try
        {
            consumed = read();
            return true;
        }
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.InvalidResponse)
        {
            consumed = 0;
            return false;
        }
    }

    /// <summary>A plausible answer: interim heads, a status line, fields, then a body framed by length or chunks.</summary>
    private static byte[] Generate(Random random)
    {
        var text = new StringBuilder();
        if (random.Chance(10))
        {
            // Only the chunked part, or only trailers: for the readers on their own.
            Chunks(text, random);
            return Encoding.Latin1.GetBytes(text.ToString());
        }
        for (var interim = random.Chance(15) ? random.Size(4, 2000) : 0; interim > 0; interim--)
            text.Append(random.Pick(["HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", "HTTP/1.1 102\r\n\r\n"]));
        text.Append(random.Chance(90) ? "HTTP/1.1" : random.Pick(["HTTP/1.0", "HTTP/2", "HTTP/1.2", "http/1.1", "HTTP/1.1 ", "HTTP/1."]));
        text.Append(' ').Append(random.Chance(90) ? random.Pick(Statuses).ToString("D3", null) : random.Digits(random.Next(5)));
        text.Append(random.Next(4) switch { 0 => "", 1 => " ", 2 => " OK", _ => " " + Encoding.Latin1.GetString(random.Bytes(random.Size(8, 100))) });
        text.Append("\r\n");

        var chunked = false;
        var length = -1L;
        var fields = random.Chance(5) ? random.Size(16, 4000) : random.Next(8);
        for (var i = 0; i < fields; i++)
        {
            var name = random.Chance(90) ? random.Pick(Names) : Encoding.Latin1.GetString(random.Bytes(1 + random.Next(10)));
            var value = random.Chance(80) ? random.Pick(Values) : Encoding.Latin1.GetString(random.Bytes(random.Size(8, 300)));
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && random.Chance(50))
                value = (length = random.Size(64, 100_000)).ToString(null, null);
            if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && random.Chance(70))
                (value, chunked) = ("chunked", true);
            if (random.Chance(5))
                text.Append(random.Pick([" ", "\t"])); // obs-fold, or a name after whitespace
            text.Append(name).Append(random.Chance(5) ? " :" : ":").Append(random.Pick(["", " ", "  ", "\t"])).Append(value).Append(random.Pick(["", " ", "\t"]));
            text.Append(random.Chance(98) ? "\r\n" : random.Pick(["\n", "\r", "\r\n "]));
        }
        if (random.Chance(3))
        {
            // A flood of one field, up to the head budget.
            var line = random.Pick(Names) + ": " + random.Pick(Values) + "\r\n";
            for (var i = random.Next(AnswerParser.MaxHeadBytes / line.Length); i > 0; i--)
                text.Append(line);
        }
        text.Append("\r\n");
        if (chunked)
            Chunks(text, random);
        else if (length >= 0)
            text.Append('x', (int)Math.Min(length, random.Chance(80) ? length : random.Next(100)));
        if (random.Chance(2))
            text.Append('x', AnswerParser.MaxHeadBytes); // past the head budget, with or without its end
        return Encoding.Latin1.GetBytes(text.ToString());
    }

    private static void Chunks(StringBuilder text, Random random)
    {
        for (var chunks = random.Next(5); chunks > 0; chunks--)
        {
            var size = random.Size(40, 5000);
            text.Append(random.Chance(90) ? size.ToString(random.Chance(50) ? "x" : "X", null) : random.Pick(["-1", "10000000", "", "g", "0x10", "1 2", random.Digits(20)]));
            if (random.Chance(20))
                text.Append(random.Pick([";", ";ext", ";name=value", ";a=\"b;c\"", " ", "\t;x", new string(' ', 1100)]));
            text.Append("\r\n").Append('d', random.Chance(90) ? size : random.Next(size + 1)).Append(random.Chance(95) ? "\r\n" : "xx");
        }
        text.Append(random.Pick(["0", "00", "0;last"])).Append("\r\n");
        for (var trailers = random.Chance(30) ? random.Size(3, 200) : 0; trailers > 0; trailers--)
            text.Append("X-Trailer-").Append(trailers).Append(": ").Append(random.Digits(3)).Append("\r\n");
        if (random.Chance(90))
            text.Append("\r\n");
    }
}
