using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using AotKvs.Protocol;

namespace AotKvs.Forwarding.Client;

/// <summary>Main's answer: the head fields the forwarder relays and the whole body.</summary>
internal readonly record struct UpstreamAnswer(AnswerHead Head, AnswerBody Body);

/// <summary>
/// One HTTP/1.1 connection to main: sends a request (or a pipelined batch) and reads whole
/// answers in order (interim 1xx heads skipped, Content-Length or chunked body, or to the end
/// for neither), each checked against its request's <see cref="ExchangeTag"/>. Not
/// thread-safe: one caller at a time, which the pool and the pipeline's turns guarantee.
/// </summary>
/// <remarks>
/// <para>An answer is relayed only when it is provably its request's: it carries that
/// request's tag, or it is the one answer on a connection that carried one request, which is
/// then closed. Anything else (another request's tag, or no tag where main has answered
/// before on this connection) throws: main and this connection are out of step.</para>
/// <para>The async methods on the per-request path use pooled state machines: each would
/// otherwise be a heap object per forwarded request.</para>
/// </remarks>
internal sealed class UpstreamConnection(Socket socket, int generation, BufferBudget budget) : IDisposable
{
    private const int InitialBuffer = 4096;

    /// <summary>Answer bodies up to this size are held even past the budget, so the answer to a write is never lost to it.</summary>
    public const int AlwaysHeldBytes = InitialBuffer;

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(InitialBuffer);
    private int _start; // unread bytes are _buffer[_start.._end]
    private int _end;
    private int _requestsSent;
    private int _answersRead;

    /// <summary>The pool's generation when this connection was opened; older ones are not reused.</summary>
    public int Generation { get; } = generation;

    /// <summary>Stopwatch timestamp of the last answer read whole on this connection (at first, of its opening).</summary>
    public long LastUsed { get; private set; } = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>
    /// Whether any answer byte has arrived since the last send. Set by every read into the
    /// buffer: a head always comes through it, so the body reads after one need not.
    /// </summary>
    public bool ReceivedAny { get; private set; }

    /// <summary>
    /// <paramref name="failure"/> came before any answer byte and not from the bound: on a
    /// pooled connection, main most likely closed it while idle and read nothing of what was sent.
    /// </summary>
    public bool FailedBeforeAnyAnswer(Exception failure, CancellationToken bound) =>
        !ReceivedAny && failure is SocketException or HttpIOException && !bound.IsCancellationRequested;

    /// <summary>
    /// Main wrote something nobody asked for while the connection was idle (a stray answer, a
    /// late body): its framing is not to be trusted. One ioctl, no read.
    /// </summary>
    public bool HasStrayBytes => socket.Available > 0;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<UpstreamAnswer> ExchangeAsync(UpstreamRequest request, CancellationToken cancel)
    {
        await SendAsync(request.Head, request.Body, 1, cancel);
        return await ReadAnswerAsync(request.Tag, request.IsHead, isLast: true, cancel);
    }

    /// <summary>
    /// Sends <paramref name="count"/> requests back to back (a pipelined batch, answered in
    /// order), then <paramref name="body"/> (a large body, sent from where it is). Bytes left
    /// from an earlier exchange are dropped: none are expected.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(ReadOnlyMemory<byte> requests, ReadOnlyMemory<byte> body, int count, CancellationToken cancel)
    {
        ReceivedAny = false;
        _start = _end = 0;
        _requestsSent += count;
        for (var sent = 0; sent < requests.Length;)
            sent += await socket.SendAsync(requests[sent..], SocketFlags.None, cancel);
        for (var sent = 0; sent < body.Length;)
            sent += await socket.SendAsync(body[sent..], SocketFlags.None, cancel);
    }

    /// <summary>
    /// Reads the next whole answer, which must be the one to the request tagged
    /// <paramref name="tag"/>. <paramref name="isLast"/>: no further answer is expected, so any
    /// byte beyond this one means the framing is not to be trusted again.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<UpstreamAnswer> ReadAnswerAsync(ulong tag, bool isHead, bool isLast, CancellationToken cancel)
    {
        var head = await ReadHeadAsync(cancel);
        while (head.Status < 200)
        {
            if (head.Status == 101)
                throw AnswerParser.Invalid("101 Switching Protocols to a request that asked for no upgrade");
            // 100 and other interim answers carry no body: the final answer follows.
            head = await ReadHeadAsync(cancel);
        }
        var answers = ++_answersRead;
        if (head.Tag != tag)
        {
            // No tag can still be tied to its request when it is the only answer this
            // connection will ever carry; anything else may be another request's answer.
            if (head.Tag != ExchangeTag.None || answers != 1 || _requestsSent != 1)
                throw AnswerParser.Invalid("an answer not tied to its request");
            head.Close = true;
        }

        AnswerBody body;
        if (isHead || head.Status is 204 or 304)
            body = default; // no body, whatever the head announces (RFC 9112 §6.3)
        else if (head.Chunked)
            body = await ReadChunkedAsync(cancel);
        else if (head.ContentLength >= 0)
            body = await ReadExactlyAsync(head.ContentLength, cancel);
        else
        {
            head.Close = true;
            body = await ReadToEndAsync(cancel);
        }

        // Bytes beyond the last answer were never asked for: this connection's framing is not to be trusted again.
        if (isLast && _end > _start)
            head.Close = true;
        LastUsed = System.Diagnostics.Stopwatch.GetTimestamp();
        return new UpstreamAnswer(head, body);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<AnswerHead> ReadHeadAsync(CancellationToken cancel)
    {
        while (true)
        {
            if (AnswerParser.TryParseHead(_buffer.AsSpan(_start, _end - _start), out var head, out var consumed))
            {
                _start += consumed;
                return head;
            }
            await ReceiveAsync(cancel);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<AnswerBody> ReadExactlyAsync(long length, CancellationToken cancel)
    {
        if (length > Array.MaxLength)
            throw AnswerParser.Invalid("Content-Length too large");
        BudgetedBuffer buffer;
        if (length <= AlwaysHeldBytes)
            buffer = BudgetedBuffer.RentAnyway(budget, (int)length);
        else if (!BudgetedBuffer.TryRent(budget, (int)length, out buffer))
        {
            await DropAsync(length, cancel);
            throw new AnswerOverBudgetException(inStep: true);
        }
        try
        {
            var filled = Take(buffer.Array.AsSpan(0, (int)length));
            while (filled < length)
            {
                var n = await socket.ReceiveAsync(buffer.Array.AsMemory(filled, (int)length - filled), SocketFlags.None, cancel);
                if (n == 0)
                    throw Ended();
                filled += n;
            }
            return new AnswerBody(buffer, (int)length);
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    /// <summary>Reads and drops a body nobody can hold, so the connection stays in step for the answers after it.</summary>
    private async ValueTask DropAsync(long length, CancellationToken cancel)
    {
        var left = length - Take(length);
        while (left > 0)
        {
            _start = _end = 0;
            await ReceiveAsync(cancel);
            left -= Take(left);
        }
    }

    private async ValueTask<AnswerBody> ReadChunkedAsync(CancellationToken cancel)
    {
        var body = new Accumulator(budget);
        try
        {
            while (true)
            {
                int size, consumed;
                while (!AnswerParser.TryParseChunkSize(_buffer.AsSpan(_start, _end - _start), out size, out consumed))
                    await ReceiveAsync(cancel);
                _start += consumed;
                if (size == 0)
                    break;
                for (var remaining = size; remaining > 0;)
                {
                    if (_end == _start)
                        await ReceiveAsync(cancel);
                    remaining -= TakeInto(ref body, remaining);
                }
                while (_end - _start < 2)
                    await ReceiveAsync(cancel);
                if (_buffer[_start] != (byte)'\r' || _buffer[_start + 1] != (byte)'\n')
                    throw AnswerParser.Invalid("chunk not followed by CRLF");
                _start += 2;
            }
            int trailers;
            while (!AnswerParser.TrySkipTrailers(_buffer.AsSpan(_start, _end - _start), out trailers))
                await ReceiveAsync(cancel);
            _start += trailers;
            return body.Finish(inStep: true);
        }
        catch
        {
            body.Abandon();
            throw;
        }
    }

    /// <summary>No length and no chunking: the body ends when main closes the connection.</summary>
    private async ValueTask<AnswerBody> ReadToEndAsync(CancellationToken cancel)
    {
        var body = new Accumulator(budget);
        try
        {
            while (true)
            {
                TakeInto(ref body, _end - _start);
                var room = body.Reserve(InitialBuffer).Length;
                var n = await socket.ReceiveAsync(body.Unfilled(room), SocketFlags.None, cancel);
                if (n == 0)
                    return body.Finish(inStep: false);
                body.Advance(n);
            }
        }
        catch
        {
            body.Abandon();
            throw;
        }
    }

    /// <summary>Copies buffered bytes into <paramref name="into"/>; how many.</summary>
    private int Take(Span<byte> into)
    {
        var n = Math.Min(into.Length, _end - _start);
        _buffer.AsSpan(_start, n).CopyTo(into);
        _start += n;
        return n;
    }

    /// <summary>Skips up to <paramref name="max"/> buffered bytes; how many.</summary>
    private int Take(long max)
    {
        var n = (int)Math.Min(max, _end - _start);
        _start += n;
        return n;
    }

    /// <summary>Moves up to <paramref name="max"/> buffered bytes onto the end of <paramref name="body"/>; how many.</summary>
    private int TakeInto(ref Accumulator body, int max)
    {
        var n = Take(body.Reserve(Math.Min(max, _end - _start)));
        body.Advance(n);
        return n;
    }

    /// <summary>
    /// Reads more into the buffer, doubling it when full. Only a head or a trailer section
    /// fills it, and the parser refuses either past <see cref="AnswerParser.MaxHeadBytes"/>
    /// before the buffer outgrows twice that; a chunk size line is refused past 1024 bytes,
    /// and the other reads come with room to spare.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReceiveAsync(CancellationToken cancel)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan(0, _end).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        var n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancel);
        if (n == 0)
            throw Ended();
        ReceivedAny = true;
        _end += n;
    }

    private static HttpIOException Ended() => new(HttpRequestError.ResponseEnded, "main closed the connection before a whole answer");

    public void Dispose()
    {
        socket.Dispose();
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
            ArrayPool<byte>.Shared.Return(buffer);
    }

    /// <summary>
    /// A body of unknown length, growing within the budget. Past the budget it goes on
    /// reading into a scratch buffer and drops what it reads, so the framing stays in step.
    /// </summary>
    private struct Accumulator(BufferBudget budget)
    {
        private BudgetedBuffer _buffer;
        private int _length;
        private byte[]? _dropping;

        /// <summary>Room for up to <paramref name="count"/> more bytes after what is filled (fewer once dropping).</summary>
        public Span<byte> Reserve(int count)
        {
            if (_dropping is null)
                Grow(count);
            return _dropping is { } scratch ? scratch.AsSpan(0, Math.Min(count, scratch.Length)) : _buffer.Array.AsSpan(_length, count);
        }

        public readonly Memory<byte> Unfilled(int count) => _dropping is { } scratch ? scratch.AsMemory(0, count) : _buffer.Array.AsMemory(_length, count);

        public void Advance(int count)
        {
            if (_dropping is null)
                _length += count;
        }

        private void Grow(int count)
        {
            if (_buffer.Array is not null && _buffer.Array.Length - _length >= count)
                return;
            if ((long)_length + count > Array.MaxLength)
                throw AnswerParser.Invalid("answer body too large");
            var size = Math.Max(Math.Max(_length + count, 256), (int)Math.Min((_buffer.Array?.Length ?? 0) * 2L, Array.MaxLength));
            var fits = _buffer.Array is null ? BudgetedBuffer.TryRent(budget, size, out _buffer) : _buffer.TryGrow(size, _length);
            if (!fits)
            {
                _buffer.Dispose();
                _dropping = new byte[InitialBuffer];
            }
        }

        /// <summary>The body; over the budget, an <see cref="AnswerOverBudgetException"/> saying whether the connection is still in step.</summary>
        public readonly AnswerBody Finish(bool inStep)
        {
            if (_dropping is not null)
                throw new AnswerOverBudgetException(inStep);
            return _buffer.Array is null ? default : new AnswerBody(_buffer, _length);
        }

        public void Abandon() => _buffer.Dispose();
    }
}

/// <summary>
/// A request as it goes to main: its head (with the body, when small), a large body sent from
/// where it already is, and what its answer must match.
/// </summary>
internal readonly record struct UpstreamRequest(ReadOnlyMemory<byte> Head, ReadOnlyMemory<byte> Body, ulong Tag, bool IsHead);
