using System.Buffers;
using AotKvs.Protocol;

namespace AotKvs.Endpoints;

/// <summary>
/// A key decoded from its percent-encoded path into a pooled buffer, so it can be handed to
/// a store that answers later (on disk or over the network) without a new array per request.
/// </summary>
internal readonly struct DecodedKey : IDisposable
{
    private readonly byte[] _buffer;
    private readonly int _length;

    private DecodedKey(byte[] buffer, int length)
    {
        _buffer = buffer;
        _length = length;
    }

    public ReadOnlyMemory<byte> Utf8 => _buffer.AsMemory(0, _length);

    /// <summary>Decodes a key no longer than <see cref="KeyRules.MaxEncodedLength"/>; anything but Valid leaves nothing to dispose.</summary>
    public static KeyStatus TryDecode(ReadOnlySpan<char> encoded, out DecodedKey key)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, encoded.Length));
        var status = KeyRules.TryDecode(encoded, buffer, out var length);
        if (status != KeyStatus.Valid)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            key = default;
            return status;
        }
        key = new DecodedKey(buffer, length);
        return status;
    }

    public void Dispose()
    {
        if (_buffer is not null)
            ArrayPool<byte>.Shared.Return(_buffer);
    }
}
