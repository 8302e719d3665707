using AotKvs.Protocol;

namespace AotKvs.Forwarding;

/// <summary>
/// Main's whole answer body in a buffer reserved from the <see cref="BufferBudget"/>. Read
/// completely before anything is sent on, so an answer cut short becomes a clean 503
/// instead of a truncated 200.
/// </summary>
internal readonly struct AnswerBody : IDisposable
{
    private readonly BudgetedBuffer _buffer;

    private AnswerBody(BudgetedBuffer buffer, ReadOnlyMemory<byte> memory, bool refused = false)
    {
        _buffer = buffer;
        Memory = memory;
        Refused = refused;
    }

    public ReadOnlyMemory<byte> Memory { get; }
    public int Length => Memory.Length;

    /// <summary>The budget could not hold the answer: nothing was read.</summary>
    public bool Refused { get; }

    public static async Task<AnswerBody> ReadAsync(HttpResponseMessage response, bool isHead, BufferBudget budget, CancellationToken cancel)
    {
        // A HEAD answer announces a length it does not send; 204 and 304 have no body either.
        if (isHead || response.StatusCode is System.Net.HttpStatusCode.NoContent or System.Net.HttpStatusCode.NotModified)
            return default;

        var content = response.Content;
        if (content.Headers.ContentLength is not (>= 0 and <= int.MaxValue and var length))
            return new AnswerBody(default, await content.ReadAsByteArrayAsync(cancel)); // chunked (main never sends it): let the client collect it

        if (!BudgetedBuffer.TryRent(budget, (int)length, out var buffer))
            return new AnswerBody(default, default, refused: true);
        try
        {
            await using var stream = await content.ReadAsStreamAsync(cancel);
            await stream.ReadExactlyAsync(buffer.Array.AsMemory(0, (int)length), cancel); // EndOfStreamException if cut short
            return new AnswerBody(buffer, buffer.Array.AsMemory(0, (int)length));
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    public void Dispose() => _buffer.Dispose();
}
