using System.Buffers.Binary;
using AotKvs.Protocol;

namespace AotKvs.Storage.Etcd;

/// <summary>
/// One open Watch stream: etcd's WatchResponse frames, read one at a time. Every frame is
/// checked as the unary answers are (<see cref="EtcdProto"/>): a frame that is not an
/// uncompressed gRPC message, or whose message is malformed, is a broken hop
/// (StoreException Unavailable), never a crash or a loop. At most <see cref="MostBuffered"/>
/// bytes of a frame are held: a larger one can only be events carrying a large value,
/// which is read past in pieces and reported as events of unknown revision.
/// Disposing resets the stream, which ends the watch in etcd.
/// </summary>
internal sealed class EtcdWatch : IDisposable
{
    /// <summary>Control answers are tens of bytes; events on one key are its key and value.</summary>
    public const int MostBuffered = 64 * 1024;

    private readonly HttpRequestMessage _request;
    private readonly HttpResponseMessage _response;
    private readonly Stream _body;
    private readonly EtcdMetrics _metrics;
    private readonly byte[] _prefix = new byte[5];
    private int _disposed;

    public EtcdWatch(HttpRequestMessage request, HttpResponseMessage response, Stream body, EtcdMetrics metrics)
    {
        _request = request;
        _response = response;
        _body = body;
        _metrics = metrics;
        metrics.WatchOpened();
    }

    /// <summary>
    /// The next WatchResponse and its header. A frame over <see cref="MostBuffered"/> is
    /// answered as events whose newest revision is unknown (<see cref="long.MaxValue"/>):
    /// the caller reads the key again to decide.
    /// </summary>
    public async Task<(WatchAnswer Answer, ResponseHeader Header)> NextAsync(CancellationToken cancel)
    {
        if (!await FillAsync(_prefix, mayEnd: true, cancel))
            throw Ended();
        if (_prefix[0] != 0)
            throw Malformed("not an uncompressed gRPC message");
        var length = BinaryPrimitives.ReadUInt32BigEndian(_prefix.AsSpan(1));
        if (length > MostBuffered)
        {
            await SkipAsync(length, cancel);
            return (new WatchAnswer(false, false, 0, null, 1, long.MaxValue), default);
        }
        var frame = new byte[5 + length];
        _prefix.CopyTo(frame, 0);
        await FillAsync(frame.AsMemory(5), mayEnd: false, cancel);
        try
        {
            return (EtcdProto.Watch(frame), EtcdProto.Header(frame));
        }
        catch (FormatException e)
        {
            throw Malformed(e.Message, e);
        }
    }

    /// <summary>Fills <paramref name="buffer"/>; false if the stream ended before its first byte where it <paramref name="mayEnd"/>.</summary>
    private async Task<bool> FillAsync(Memory<byte> buffer, bool mayEnd, CancellationToken cancel)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await ReadAsync(buffer[filled..], cancel);
            if (read == 0)
                return filled == 0 && mayEnd ? false : throw Malformed("a gRPC frame cut short");
            filled += read;
        }
        return true;
    }

    private async Task SkipAsync(uint length, CancellationToken cancel)
    {
        var piece = new byte[16 * 1024];
        for (long left = length; left > 0;)
        {
            var read = await ReadAsync(piece.AsMemory(0, (int)Math.Min(left, piece.Length)), cancel);
            if (read == 0)
                throw Malformed("a gRPC frame cut short");
            left -= read;
        }
    }

    private async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancel)
    {
        try
        {
            return await _body.ReadAsync(buffer, cancel);
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !cancel.IsCancellationRequested)
        {
            _metrics.CountError(FailureCause.Cause(e));
            throw new StoreException(StoreFailure.Unavailable, $"the etcd watch broke: {e.Message}", e);
        }
    }

    /// <summary>etcd ended the stream: its status is in the trailers ("no leader" and the like).</summary>
    private StoreException Ended()
    {
        var status = EtcdChannel.Header(_response.TrailingHeaders, "grpc-status") ?? "none";
        var message = EtcdChannel.Header(_response.TrailingHeaders, "grpc-message") is { } text ? Uri.UnescapeDataString(text) : "no message";
        _metrics.CountError("unavailable");
        return new StoreException(StoreFailure.Unavailable, $"etcd ended the watch: {status}: {message}");
    }

    private StoreException Malformed(string what, Exception? inner = null)
    {
        _metrics.CountError("invalid_response");
        return new StoreException(StoreFailure.Unavailable, $"etcd answered what it never sends: {what}", inner);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _body.Dispose();
        _response.Dispose();
        _request.Dispose();
        _metrics.WatchClosed();
    }
}
