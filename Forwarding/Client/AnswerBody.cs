using AotKvs.Protocol;

namespace AotKvs.Forwarding.Client;

/// <summary>
/// Main's whole answer body in a buffer reserved from the <see cref="BufferBudget"/>. Read
/// completely before anything is sent on, so an answer cut short becomes a clean 503
/// instead of a truncated 200.
/// </summary>
internal readonly struct AnswerBody : IDisposable
{
    private readonly BudgetedBuffer _buffer;

    /// <summary>The first <paramref name="length"/> bytes of <paramref name="buffer"/>, now owned by this body.</summary>
    public AnswerBody(BudgetedBuffer buffer, int length)
    {
        _buffer = buffer;
        Memory = buffer.Array.AsMemory(0, length);
    }

    public ReadOnlyMemory<byte> Memory { get; }
    public int Length => Memory.Length;

    public void Dispose() => _buffer.Dispose();
}

/// <summary>
/// Main's answer would not fit in the <see cref="BufferBudget"/>: the forwarder answers 503
/// "Server is busy" and closes, as for a request body over the budget. Only answers larger
/// than <see cref="UpstreamConnection.AlwaysHeldBytes"/> are refused so (a GET of a large
/// value): the answer to a PUT or DELETE is always relayed.
/// </summary>
/// <param name="inStep">The body was read and dropped: the connection can carry the next answer.</param>
// Stryker disable once String : the message is never shown; the forwarder answers 503 "Server is busy" and logs nothing of it
internal sealed class AnswerOverBudgetException(bool inStep) : Exception("main's answer does not fit in the buffer budget")
{
    public bool InStep { get; } = inStep;
}
