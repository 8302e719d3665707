using System.Buffers;
using System.Text.Unicode;
using AotKvs.Protocol;

namespace AotKvs.Endpoints;

/// <summary>
/// How main reads a key from its encoded form (<see cref="KeyPath.Locate"/>): percent-decoded as UTF-8.
/// '+' is a plain plus (it means space only in form bodies); "%2F" is a slash inside the key.
/// Keys stay UTF-8 bytes from the wire to the store.
/// </summary>
internal static class KeyRules
{
    /// <summary>Longest key, in Unicode code points (what Python's len() counts).</summary>
    public const int MaxCodePoints = 50;

    /// <summary>Longest percent-encoded form of a storable key: 4 UTF-8 bytes a code point, 3 chars a byte.</summary>
    public const int MaxEncodedLength = MaxCodePoints * 4 * 3;

    /// <summary>
    /// Percent-decodes <paramref name="encoded"/> into <paramref name="destination"/> (at
    /// least encoded.Length long) and checks that the bytes are UTF-8.
    /// </summary>
    public static KeyStatus TryDecode(ReadOnlySpan<char> encoded, Span<byte> destination, out int length)
    {
        length = 0;
        for (var i = 0; i < encoded.Length; i++)
        {
            var c = encoded[i];
            if (c == '%')
            {
                if (i + 2 >= encoded.Length)
                    return KeyStatus.Malformed;
                var hi = HexValue(encoded[i + 1]);
                var lo = HexValue(encoded[i + 2]);
                if ((hi | lo) < 0)
                    return KeyStatus.Malformed;
                destination[length++] = (byte)(hi << 4 | lo);
                i += 2;
            }
            else if (c <= 0x7F)
            {
                destination[length++] = (byte)c;
            }
            else
            {
                return KeyStatus.Malformed; // the HTTP layer hands us ASCII; anything else was never encoded
            }
        }
        return Utf8.IsValid(destination[..length]) ? KeyStatus.Valid : KeyStatus.Malformed;
    }

    /// <summary>
    /// Whether a key too long to store (longer than <see cref="MaxEncodedLength"/>) is at
    /// least well encoded, which decides its error: it is decoded into a pooled buffer
    /// rather than onto the stack, since its length is bounded only by the request line.
    /// </summary>
    public static KeyStatus CheckOverlong(ReadOnlySpan<char> encoded)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(encoded.Length);
        try
        {
            return TryDecode(encoded, buffer, out _);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Code points in valid UTF-8: every byte that does not continue a sequence.</summary>
    public static int CodePoints(ReadOnlySpan<byte> utf8)
    {
        var count = 0;
        foreach (var b in utf8)
            if ((b & 0xC0) != 0x80)
                count++;
        return count;
    }

    public static bool IsTooLong(ReadOnlySpan<byte> utf8) =>
        utf8.Length > MaxCodePoints && CodePoints(utf8) > MaxCodePoints;

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
