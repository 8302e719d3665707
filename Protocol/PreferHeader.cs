using Microsoft.Extensions.Primitives;

namespace AotKvs.Protocol;

/// <summary>
/// The <c>wait</c> preference of a request's Prefer header (RFC 7240 §4.3): how many seconds
/// the client is willing to wait for the answer. Main's endpoint reads it (how long a
/// conditional GET may wait for a change), and so does a forwarder (such a request goes to
/// main alone, with its bound extended).
/// </summary>
/// <remarks>
/// The syntax of RFC 7240 §2: comma-separated preferences on one or more lines, each
/// <c>token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] )</c>, the token compared
/// case-insensitively, a word a token or a quoted-string. Parameters are ignored, and so is
/// every preference but wait. Only the first wait counts (§2: later instances of a
/// preference are ignored); when its value is not delta-seconds (digits, optionally quoted),
/// the request has no wait.
/// </remarks>
internal static class PreferHeader
{
    public const string Name = "Prefer";

    /// <summary>The answer header that says which preferences were honoured (RFC 7240 §3).</summary>
    public const string AppliedName = "Preference-Applied";

    /// <summary>
    /// The seconds the request's first <c>wait</c> preference asks for (0 included; more than
    /// <see cref="int.MaxValue"/> reads as that). False when there is none, or it is unparsable.
    /// </summary>
    public static bool TryReadWait(IHeaderDictionary headers, out int seconds) => TryReadWait(headers[Name], out seconds);

    /// <summary>As <see cref="TryReadWait(IHeaderDictionary, out int)"/>, from the Prefer lines themselves.</summary>
    public static bool TryReadWait(StringValues prefer, out int seconds)
    {
        foreach (var line in prefer)
        {
            var rest = (line ?? "").AsSpan();
            while (NextPreference(ref rest, out var preference))
            {
                var equals = preference.IndexOf('=');
                var name = equals < 0 ? preference : preference[..equals].TrimEnd(" \t");
                if (name.Equals("wait", StringComparison.OrdinalIgnoreCase))
                    return TryReadSeconds(equals < 0 ? default : preference[(equals + 1)..].TrimStart(" \t"), out seconds);
            }
        }
        seconds = 0;
        return false;
    }

    /// <summary>
    /// Cuts the next comma-separated element off <paramref name="rest"/> (a quoted-string is
    /// kept whole, commas and semicolons in it included); <paramref name="preference"/> is its
    /// part before any parameters, trimmed. False when nothing is left.
    /// </summary>
    private static bool NextPreference(ref ReadOnlySpan<char> rest, out ReadOnlySpan<char> preference)
    {
        preference = default;
        if (rest.IsEmpty)
            return false;
        var end = rest.Length;
        var parameters = -1;
        var quoted = false;
        for (var i = 0; i < rest.Length; i++)
        {
            var c = rest[i];
            if (quoted)
            {
                if (c == '\\')
                    i++; // a quoted-pair: the next character is taken as it is
                else if (c == '"')
                    quoted = false;
            }
            else if (c == '"')
                quoted = true;
            else if (c == ';' && parameters < 0)
                parameters = i;
            else if (c == ',')
            {
                end = i;
                break;
            }
        }
        var element = rest[..end];
        rest = end < rest.Length ? rest[(end + 1)..] : default;
        preference = (parameters < 0 ? element : element[..parameters]).Trim(" \t");
        return true;
    }

    /// <summary>delta-seconds (RFC 9111 §1.2.2), bare or as a quoted-string.</summary>
    private static bool TryReadSeconds(ReadOnlySpan<char> word, out int seconds)
    {
        seconds = 0;
        var quoted = word.Length >= 2 && word[0] == '"' && word[^1] == '"';
        if (quoted)
            word = word[1..^1];
        if (word.IsEmpty)
            return false;
        long value = 0;
        for (var i = 0; i < word.Length; i++)
        {
            var c = word[i];
            if (quoted && c == '\\' && i + 1 < word.Length)
                c = word[++i]; // a quoted-pair stands for the character it escapes
            if (c is < '0' or > '9')
                return false;
            value = Math.Min(value * 10 + (c - '0'), int.MaxValue);
        }
        seconds = (int)value;
        return true;
    }
}
