using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace AotKvs.Endpoints;

internal enum KeyStatus { Valid, Missing, Malformed, NotKeyPath }

/// <summary>
/// How a key is read from a path: everything after "/kvs/", percent-decoded as UTF-8.
/// '+' is a plain plus (it means space only in form bodies); "%2F" is a slash inside the key.
/// </summary>
internal static class KeyRules
{
    public const string Prefix = "/kvs";

    /// <summary>Longest key, in Unicode code points (what Python's len() counts).</summary>
    public const int MaxCodePoints = 50;

    /// <summary>Longest percent-encoded form of a storable key: 4 UTF-8 bytes a code point, 3 chars a byte.</summary>
    public const int MaxEncodedLength = MaxCodePoints * 4 * 3;

    /// <summary>Decodes into a new string; for keys that will be stored.</summary>
    public static KeyStatus TryDecode(ReadOnlySpan<char> path, out string key)
    {
        key = "";
        var status = Locate(path, out var encoded);
        if (status != KeyStatus.Valid)
            return status;

        char[]? rented = null;
        var chars = encoded.Length <= 256 ? stackalloc char[256] : (rented = ArrayPool<char>.Shared.Rent(encoded.Length));
        status = TryDecode(encoded, chars, out var written);
        if (status == KeyStatus.Valid)
            key = new string(chars[..written]);
        if (rented is not null)
            ArrayPool<char>.Shared.Return(rented);
        return status;
    }

    /// <summary>The still-encoded key: the part of the path after "/kvs/".</summary>
    public static KeyStatus Locate(ReadOnlySpan<char> path, out ReadOnlySpan<char> encoded)
    {
        encoded = default;
        if (!path.StartsWith(Prefix, StringComparison.Ordinal))
            return KeyStatus.NotKeyPath;
        var rest = path[Prefix.Length..];
        if (rest.IsEmpty || rest is "/")
            return KeyStatus.Missing;
        if (rest[0] != '/')
            return KeyStatus.NotKeyPath;
        encoded = rest[1..];
        return KeyStatus.Valid;
    }

    /// <summary>
    /// Percent-decodes <paramref name="encoded"/> and checks the bytes are UTF-8, writing the
    /// key as UTF-16 into <paramref name="destination"/> (at least encoded.Length long).
    /// </summary>
    public static KeyStatus TryDecode(ReadOnlySpan<char> encoded, Span<char> destination, out int written)
    {
        written = 0;
        byte[]? rented = null;
        var bytes = encoded.Length <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(encoded.Length));
        try
        {
            var length = 0;
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
                    bytes[length++] = (byte)(hi << 4 | lo);
                    i += 2;
                }
                else if (c <= 0x7F)
                {
                    bytes[length++] = (byte)c;
                }
                else
                {
                    return KeyStatus.Malformed; // the HTTP layer hands us ASCII; anything else was never encoded
                }
            }

            var status = Utf8.ToUtf16(bytes[..length], destination, out _, out written, replaceInvalidSequences: false);
            return status == OperationStatus.Done ? KeyStatus.Valid : KeyStatus.Malformed;
        }
        finally
        {
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Code points in a UTF-16 key: every char except the second half of a pair.</summary>
    public static int CodePoints(ReadOnlySpan<char> key)
    {
        var count = key.Length;
        foreach (var c in key)
            if (char.IsLowSurrogate(c))
                count--;
        return count;
    }

    public static bool IsTooLong(ReadOnlySpan<char> key) =>
        key.Length > MaxCodePoints && CodePoints(key) > MaxCodePoints;

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
