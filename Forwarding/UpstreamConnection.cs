using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using AotKvs.Protocol;

namespace AotKvs.Forwarding;

/// <summary>Main's answer: the head fields the forwarder relays and the whole body.</summary>
internal readonly record struct UpstreamAnswer(AnswerHead Head, AnswerBody Body);

/// <summary>
/// One keep-alive HTTP/1.1 connection to main: sends a request (or a pipelined batch) and
/// reads whole answers in order (interim 1xx heads skipped, Content-Length or chunked body,
/// or to the end for neither). Not thread-safe: one caller at a time, which the pool and
/// the pipeline's turns guarantee.
/// </summary>
/// <remarks>
/// The async methods on the per-request path use pooled state machines: each would otherwise
/// be a heap object per forwarded request.
/// </remarks>
internal sealed class UpstreamConnection(Socket socket, int generation, BufferBudget budget) : IDisposable
{
    private const int InitialBuffer = 4096;

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(InitialBuffer);
    private int _start; // unread bytes are _buffer[_start.._end]
    private int _end;

    /// <summary>The pool's generation when this connection was opened; older ones are not reused.</summary>
    public int Generation { get; } = generation;

    /// <summary>Stopwatch timestamp of the last answer read whole on this connection.</summary>
    public long LastUsed { get; private set; }

    /// <summary>True once an answer has been read on it: a failure before any answer byte may then be a stale connection.</summary>
    public bool Reused { get; private set; }

    /// <summary>Whether any answer byte has arrived since the last send.</summary>
    public bool ReceivedAny { get; private set; }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<UpstreamAnswer> ExchangeAsync(ReadOnlyMemory<byte> request, bool isHead, CancellationToken cancel)
    {
        await SendAsync(request, cancel);
        return await ReadAnswerAsync(isHead, isLast: true, cancel);
    }

    /// <summary>
    /// Sends one request, or several back to back (a pipelined batch, answered in order).
    /// Bytes left from an earlier exchange are dropped: none are expected.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(ReadOnlyMemory<byte> requests, CancellationToken cancel)
    {
        ReceivedAny = false;
        _start = _end = 0;
        for (var sent = 0; sent < requests.Length;)
            sent += await socket.SendAsync(requests[sent..], SocketFlags.None, cancel);
    }

    /// <summary>
    /// Reads the next whole answer. <paramref name="isLast"/>: no further answer is expected,
    /// so any byte beyond this one means the framing is not to be trusted again.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<UpstreamAnswer> ReadAnswerAsync(bool isHead, bool isLast, CancellationToken cancel)
    {
        AnswerHead head;
        while (true)
        {
            head = await ReadHeadAsync(cancel);
            if (head.Status >= 200)
                break;
            if (head.Status == 101)
                throw AnswerParser.Invalid("101 Switching Protocols to a request that asked for no upgrade");
            // 100 and other interim answers carry no body: the final answer follows.
        }

        AnswerBody body;
        if (isHead || head.Status is 204 or 304)
            body = default; // a HEAD answer announces a length it does not send
        else if (head.Chunked)
            body = await ReadChunkedAsync(cancel);
        else if (head.ContentLength >= 0)
            body = await ReadExactlyAsync(head.ContentLength, cancel);
        else
        {
            body = await ReadToEndAsync(cancel);
            head.Close = true;
        }

        // Bytes beyond the last answer were never asked for: this connection's framing is not to be trusted again.
        if (isLast && _end > _start)
            head.Close = true;
        Reused = true;
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
            await ReceiveAsync(AnswerParser.MaxHeadBytes + 1, cancel);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<AnswerBody> ReadExactlyAsync(long length, CancellationToken cancel)
    {
        if (length > Array.MaxLength)
            throw AnswerParser.Invalid("Content-Length too large");
        if (!BudgetedBuffer.TryRent(budget, (int)length, out var buffer))
            throw new AnswerOverBudgetException();
        try
        {
            var filled = Take(buffer.Array.AsSpan(0, (int)length));
            while (filled < length)
            {
                var n = await socket.ReceiveAsync(buffer.Array.AsMemory(filled, (int)length - filled), SocketFlags.None, cancel);
                if (n == 0)
                    throw Ended();
                ReceivedAny = true;
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

    private async ValueTask<AnswerBody> ReadChunkedAsync(CancellationToken cancel)
    {
        var body = new Accumulator(budget);
        try
        {
            while (true)
            {
                int size, consumed;
                while (!AnswerParser.TryParseChunkSize(_buffer.AsSpan(_start, _end - _start), out size, out consumed))
                    await ReceiveAsync(_buffer.Length, cancel);
                _start += consumed;
                if (size == 0)
                    break;
                for (var remaining = size; remaining > 0;)
                {
                    if (_end == _start)
                        await ReceiveAsync(_buffer.Length, cancel);
                    remaining -= TakeInto(ref body, remaining);
                }
                while (_end - _start < 2)
                    await ReceiveAsync(_buffer.Length, cancel);
                if (_buffer[_start] != (byte)'\r' || _buffer[_start + 1] != (byte)'\n')
                    throw AnswerParser.Invalid("chunk not followed by CRLF");
                _start += 2;
            }
            int trailers;
            while (!AnswerParser.TrySkipTrailers(_buffer.AsSpan(_start, _end - _start), out trailers))
                await ReceiveAsync(AnswerParser.MaxHeadBytes + 1, cancel);
            _start += trailers;
            return body.Finish();
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
                body.Reserve(InitialBuffer);
                var n = await socket.ReceiveAsync(body.Unfilled(InitialBuffer), SocketFlags.None, cancel);
                if (n == 0)
                    return body.Finish();
                ReceivedAny = true;
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

    /// <summary>Moves up to <paramref name="max"/> buffered bytes onto the end of <paramref name="body"/>; how many.</summary>
    private int TakeInto(ref Accumulator body, int max)
    {
        var n = Take(body.Reserve(Math.Min(max, _end - _start)));
        body.Advance(n);
        return n;
    }

    /// <summary>Reads more into the buffer, growing it up to <paramref name="limit"/> bytes when full.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReceiveAsync(int limit, CancellationToken cancel)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= limit)
                throw AnswerParser.Invalid("answer head too large");
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(_buffer.Length * 2, limit));
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

    /// <summary>A body of unknown length, growing within the budget.</summary>
    private struct Accumulator(BufferBudget budget)
    {
        private BudgetedBuffer _buffer;
        private int _length;

        /// <summary>Room for <paramref name="count"/> more bytes after what is filled.</summary>
        public Span<byte> Reserve(int count)
        {
            Grow(count);
            return _buffer.Array.AsSpan(_length, count);
        }

        public Memory<byte> Unfilled(int count) => _buffer.Array.AsMemory(_length, count);

        public void Advance(int count) => _length += count;

        private void Grow(int count)
        {
            if (_buffer.Array is not null && _buffer.Array.Length - _length >= count)
                return;
            if ((long)_length + count > Array.MaxLength)
                throw AnswerParser.Invalid("answer body too large");
            var size = Math.Max(Math.Max(_length + count, 256), (int)Math.Min((_buffer.Array?.Length ?? 0) * 2L, Array.MaxLength));
            var fits = _buffer.Array is null ? BudgetedBuffer.TryRent(budget, size, out _buffer) : _buffer.TryGrow(size, _length);
            if (!fits)
                throw new AnswerOverBudgetException();
        }

        public AnswerBody Finish() => _buffer.Array is null ? default : new AnswerBody(_buffer, _length);

        public void Abandon() => _buffer.Dispose();
    }
}
