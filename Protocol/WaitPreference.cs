using Microsoft.Extensions.Primitives;

namespace AotKvs.Protocol;

/// <summary>
/// The "wait" preference of a request's Prefer header (RFC 7240 §2, §4.3): how many seconds
/// the client will wait for an answer. Both roles read it the same way: main to wait for a
/// change, a forwarder to send such a request alone with its deadline extended.
/// Syntax: preferences separated by commas, each a token, optionally "=" and a token or
/// quoted string, then ";"-separated parameters (ignored). Tokens are case-insensitive. Only
/// the first "wait" counts (§2); a wait whose value is not delta-seconds is ignored, as a
/// server ignores any preference it cannot apply: a Prefer header is never an error.
/// </summary>
internal static class WaitPreference
{
    /// <summary>Longer asks are read as this: every cap is lower, and it keeps the arithmetic in range.</summary>
    public const int MaxSeconds = int.MaxValue / 1000;

    /// <summary>Whether the request asks to wait, and for how many seconds (0 to <see cref="MaxSeconds"/>).</summary>
    public static bool TryRead(StringValues prefer, out int seconds)
    {
        seconds = 0;
        foreach (var line in prefer)
        {
            var rest = (line ?? "").AsSpan();
            while (!rest.IsEmpty)
            {
                var preference = NextElement(ref rest, ',');
                var name = NextElement(ref preference, ';'); // parameters after ';' are ignored
                var equals = name.IndexOf('=');
                var token = (equals < 0 ? name : name[..equals]).Trim(" \t");
                if (!token.Equals("wait", StringComparison.OrdinalIgnoreCase))
                    continue;
                // The first wait decides, valid or not (RFC 7240 §2).
                return equals >= 0 && TryDeltaSeconds(Unquote(name[(equals + 1)..].Trim(" \t")), out seconds);
            }
        }
        return false;
    }

    /// <summary>The text up to the next <paramref name="separator"/> outside a quoted string; <paramref name="rest"/> moves past it.</summary>
    private static ReadOnlySpan<char> NextElement(ref ReadOnlySpan<char> rest, char separator)
    {
        var quoted = false;
        for (var i = 0; i < rest.Length; i++)
        {
            var c = rest[i];
            if (quoted && c == '\\')
                i++; // a quoted pair: the next character is literal
            else if (c == '"')
                quoted = !quoted;
            else if (!quoted && c == separator)
            {
                var element = rest[..i];
                rest = rest[(i + 1)..];
                return element;
            }
        }
        var last = rest;
        rest = default;
        return last;
    }

    private static ReadOnlySpan<char> Unquote(ReadOnlySpan<char> word) =>
        word.Length >= 2 && word[0] == '"' && word[^1] == '"' ? word[1..^1] : word;

    /// <summary>delta-seconds = 1*DIGIT (RFC 9111 §1.2.2); very large values are read as <see cref="MaxSeconds"/>.</summary>
    private static bool TryDeltaSeconds(ReadOnlySpan<char> digits, out int seconds)
    {
        seconds = 0;
        if (digits.IsEmpty)
            return false;
        long value = 0;
        foreach (var c in digits)
        {
            if (!char.IsAsciiDigit(c))
                return false;
            value = Math.Min(value * 10 + (c - '0'), MaxSeconds);
        }
        seconds = (int)value;
        return true;
    }
}
