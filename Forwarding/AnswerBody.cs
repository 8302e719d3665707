using System.Buffers;

namespace AotKvs.Forwarding;

/// <summary>
/// Main's whole answer body in a pooled buffer. Read completely before anything is sent
/// on, so an answer cut short becomes a clean 503 instead of a truncated 200.
/// </summary>
internal readonly struct AnswerBody : IDisposable
{
    private readonly byte[]? _rented;

    /// <summary>The first <paramref name="length"/> bytes of a buffer rented from the shared pool, now owned by this body.</summary>
    public AnswerBody(byte[] rented, int length)
    {
        _rented = rented;
        Memory = rented.AsMemory(0, length);
    }

    public ReadOnlyMemory<byte> Memory { get; }
    public int Length => Memory.Length;

    public void Dispose()
    {
        if (_rented is not null)
            ArrayPool<byte>.Shared.Return(_rented);
    }
}
