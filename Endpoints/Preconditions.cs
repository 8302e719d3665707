using AotKvs.Storage;
using Microsoft.Extensions.Primitives;

namespace AotKvs.Endpoints;

/// <summary>
/// Reads If-Match and If-None-Match (RFC 9110 §13.1.1, §13.1.2) into a <see cref="Precondition"/>.
/// Each is "*" or a comma-separated list of entity tags (§5.6.1: optional whitespace around
/// commas, empty elements ignored, a field on several lines is one list). If-Match compares
/// strongly (a weak W/"…" tag never matches), If-None-Match weakly (W/"x" matches "x").
/// Anything else, "*" inside a list included, is malformed: the request is refused, never
/// guessed at.
/// </summary>
internal static class Preconditions
{
    /// <summary>False if either header is malformed; a request with neither costs two field reads.</summary>
    public static bool TryRead(IHeaderDictionary headers, EntityTags tags, out Precondition condition)
    {
        condition = Precondition.None;
        var ifMatch = headers.IfMatch;
        var ifNoneMatch = headers.IfNoneMatch;
        if (ifMatch.Count == 0 && ifNoneMatch.Count == 0)
            return true;
        if (!TryParse(ifMatch, weakMatches: false, tags, out var match) || !TryParse(ifNoneMatch, weakMatches: true, tags, out var noneMatch))
            return false;
        condition = new Precondition(match, noneMatch);
        return true;
    }

    /// <summary>
    /// One header, all its lines: absent (no lines), any version ("*"), or the versions its
    /// tags name here. Tags that name none are left out; the header still counts as present.
    /// </summary>
    public static bool TryParse(StringValues lines, bool weakMatches, EntityTags tags, out VersionSet set)
    {
        set = default;
        if (lines.Count == 0)
            return true;
        List<ulong>? versions = null;
        var elements = 0;
        var star = false;
        var absence = false;
        foreach (var line in lines)
        {
            var rest = (line ?? "").AsSpan();
            while (true)
            {
                rest = rest.TrimStart(" \t");
                if (rest.IsEmpty)
                    break;
                if (rest[0] == ',') // an empty element
                {
                    rest = rest[1..];
                    continue;
                }
                elements++;
                if (rest[0] == '*')
                {
                    star = true;
                    rest = rest[1..];
                }
                else if (TryTag(ref rest, out var weak, out var opaque))
                {
                    if ((weakMatches || !weak) && tags.TryVersion(opaque, out var version))
                        (versions ??= []).Add(version);
                    else if (weakMatches && tags.IsAbsence(opaque))
                        absence = true;
                }
                else
                    return false;

                // After an element: the end, or a comma (with optional whitespace before it).
                rest = rest.TrimStart(" \t");
                if (!rest.IsEmpty && rest[0] != ',')
                    return false;
            }
        }
        if (star && elements > 1) // "*" stands alone: "*, \"a\"" is neither form
            return false;
        set = star ? VersionSet.AnyVersion : VersionSet.Of(versions?.ToArray() ?? [], absence);
        return true;
    }

    /// <summary>entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text.</summary>
    private static bool TryTag(ref ReadOnlySpan<char> rest, out bool weak, out ReadOnlySpan<char> opaque)
    {
        opaque = default;
        weak = rest.StartsWith("W/", StringComparison.Ordinal); // case-sensitive (%s"W/")
        var tag = weak ? rest[2..] : rest;
        if (tag.IsEmpty || tag[0] != '"')
            return false;
        var length = 0;
        while (1 + length < tag.Length && IsTagChar(tag[1 + length]))
            length++;
        if (1 + length >= tag.Length || tag[1 + length] != '"')
            return false;
        opaque = tag.Slice(1, length);
        rest = tag[(length + 2)..];
        return true;
    }

    private static bool IsTagChar(char c) => c == 0x21 || (c >= 0x23 && c != 0x7F);
}
