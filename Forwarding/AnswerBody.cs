using System.Buffers;

namespace AotKvs.Forwarding;

/// <summary>
/// Main's whole answer body in a pooled buffer. Read completely before anything is sent
/// on, so an answer cut short becomes a clean 503 instead of a truncated 200.
/// </summary>
internal readonly struct AnswerBody : IDisposable
{
    private readonly byte[]? _rented;

    private AnswerBody(byte[]? rented, ReadOnlyMemory<byte> memory)
    {
        _rented = rented;
        Memory = memory;
    }

    public ReadOnlyMemory<byte> Memory { get; }
    public int Length => Memory.Length;

    public static async Task<AnswerBody> ReadAsync(HttpResponseMessage response, bool isHead, CancellationToken cancel)
    {
        // A HEAD answer announces a length it does not send; 204 and 304 have no body either.
        if (isHead || response.StatusCode is System.Net.HttpStatusCode.NoContent or System.Net.HttpStatusCode.NotModified)
            return default;

        var content = response.Content;
        if (content.Headers.ContentLength is not (>= 0 and <= int.MaxValue and var length))
            return new AnswerBody(null, await content.ReadAsByteArrayAsync(cancel)); // chunked: let the client collect it

        var rented = ArrayPool<byte>.Shared.Rent((int)Math.Max(length, 1));
        try
        {
            await using var stream = await content.ReadAsStreamAsync(cancel);
            await stream.ReadExactlyAsync(rented.AsMemory(0, (int)length), cancel); // EndOfStreamException if cut short
            return new AnswerBody(rented, rented.AsMemory(0, (int)length));
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(rented);
            throw;
        }
    }

    public void Dispose()
    {
        if (_rented is not null)
            ArrayPool<byte>.Shared.Return(_rented);
    }
}
