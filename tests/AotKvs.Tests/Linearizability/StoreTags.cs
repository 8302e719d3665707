using System.Globalization;
using AotKvs.Storage;

namespace AotKvs.Tests.Linearizability;

/// <summary>
/// Tags for the in-process targets, in the service's format: "&lt;scope&gt;-&lt;version in
/// lower-case hex&gt;", quoted. A tag of another scope, or not of this form, names no version.
/// </summary>
internal static class StoreTags
{
    public static string? Format(string scope, ulong version) => version == 0 ? null : $"\"{scope}-{version:x}\"";

    /// <summary>The precondition a request with these headers carries (RFC 9110: If-Match compares strongly, If-None-Match weakly).</summary>
    public static Precondition Read(string scope, WriteCondition condition) =>
        new(Set(scope, condition.IfMatch, strong: true), Set(scope, condition.IfNoneMatch, strong: false));

    private static VersionSet Set(string scope, string? tag, bool strong)
    {
        if (tag is null)
            return default;
        if (tag == "*")
            return VersionSet.AnyVersion;
        if (tag.StartsWith("W/", StringComparison.Ordinal))
        {
            if (strong)
                return VersionSet.Of([]);
            tag = tag[2..];
        }
        var prefix = $"\"{scope}-";
        var digits = tag.StartsWith(prefix, StringComparison.Ordinal) && tag.EndsWith('"') && tag.Length > prefix.Length + 1
            ? tag[prefix.Length..^1] : "";
        return digits.Length is >= 1 and <= 16 && ulong.TryParse(digits, NumberStyles.AllowHexSpecifier, null, out var version)
            ? VersionSet.Of([version])
            : VersionSet.Of([]);
    }
}
