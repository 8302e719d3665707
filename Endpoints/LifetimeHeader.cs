using AotKvs.Storage;
using Microsoft.Extensions.Primitives;

namespace AotKvs.Endpoints;

/// <summary>
/// A PUT's Kvs-Ttl header: the whole number of seconds its value lives (1 to
/// <see cref="Lifetime.MaxSeconds"/>), as plain decimal digits on one line. Without it, the
/// value lives until it is replaced or deleted (and a deadline the key had goes).
/// </summary>
internal static class LifetimeHeader
{
    public const string Name = "Kvs-Ttl";

    /// <summary>False if the header is there but not one such number.</summary>
    public static bool TryRead(StringValues lines, out Lifetime lifetime)
    {
        lifetime = Lifetime.Forever;
        if (lines.Count == 0)
            return true;
        if (lines.Count > 1)
            return false;
        var text = (lines[0] ?? "").AsSpan().Trim(" \t");
        if (text.IsEmpty || text.Length > 9 || text[0] == '0')
            return false;
        var seconds = 0;
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
                return false;
            seconds = seconds * 10 + (c - '0');
        }
        if (seconds > Lifetime.MaxSeconds)
            return false;
        lifetime = new Lifetime(seconds);
        return true;
    }
}
