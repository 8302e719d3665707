namespace AotKvs.Endpoints;

/// <summary>
/// A store's versions as strong entity tags (RFC 9110 §8.8.3): "&lt;scope&gt;-&lt;version in
/// lower-case hex, no leading zeros&gt;", quotes included. Tags are compared character for
/// character, so only that exact form names a version here; anything else (another store's
/// scope, upper-case or padded hex) names none. A store without versions (empty scope) has
/// no tags. The scope is read from the store each time: a main over etcd learns it from the
/// cluster's first answer, after start-up.
/// </summary>
internal sealed class EntityTags(Func<string?> currentScope)
{
    public EntityTags(string scope)
        : this(() => scope)
    {
    }

    // The tags of the latest versions, by version, so a GET of a recently written value sends
    // the string its PUT made instead of a new one. Bounded, whatever the number of keys.
    private const int RecentSlots = 4096;
    private const int MaxHexDigits = 16;
    private readonly string?[] _recent = new string?[RecentSlots];

    public bool HasVersions => !string.IsNullOrEmpty(currentScope());

    /// <summary>The store will have versions but cannot name their scope yet (a main over etcd before the cluster's first answer).</summary>
    public bool ScopeUnknown => currentScope() is null;

    /// <summary>The tag of <paramref name="version"/> (≥ 1; 0: the tag of "absent"), with its quotes, as the ETag header's value.</summary>
    public string For(ulong version)
    {
        var scope = currentScope() ?? "";
        Span<char> hex = stackalloc char[MaxHexDigits];
        version.TryFormat(hex, out var digits, "x");
        hex = hex[..digits];

        ref var slot = ref _recent[(int)(version % RecentSlots)];
        var recent = slot; // read once: another thread may replace it
        if (recent is not null && recent.Length == scope.Length + digits + 3 && recent.AsSpan(scope.Length + 2, digits).SequenceEqual(hex)
            && recent.AsSpan(1, scope.Length).SequenceEqual(scope))
            return recent;
        var tag = string.Create(scope.Length + digits + 3, (scope, version), static (chars, state) =>
        {
            chars[0] = '"';
            state.scope.CopyTo(chars[1..]);
            chars[state.scope.Length + 1] = '-';
            state.version.TryFormat(chars[(state.scope.Length + 2)..], out _, "x");
            chars[^1] = '"';
        });
        slot = tag;
        return tag;
    }

    /// <summary>
    /// Whether an opaque tag is this store's tag of "absent": the scope, then "-0" (what
    /// <see cref="For"/> gives for version 0). A waiting read uses it to wait for a creation.
    /// </summary>
    public bool IsAbsence(ReadOnlySpan<char> opaque)
    {
        var scope = currentScope() ?? "";
        return scope.Length > 0 && opaque.Length == scope.Length + 2 && opaque.StartsWith(scope, StringComparison.Ordinal) && opaque.EndsWith("-0");
    }

    /// <summary>The version an opaque tag (between its quotes) names here, if it names one.</summary>
    public bool TryVersion(ReadOnlySpan<char> opaque, out ulong version)
    {
        version = 0;
        var scope = currentScope() ?? "";
        if (scope.Length == 0 || opaque.Length <= scope.Length + 1 || !opaque.StartsWith(scope, StringComparison.Ordinal) || opaque[scope.Length] != '-')
            return false;
        var hex = opaque[(scope.Length + 1)..];
        if (hex.Length > MaxHexDigits || hex[0] == '0')
            return false;
        foreach (var c in hex)
        {
            var digit = char.IsAsciiDigit(c) ? c - '0' : c is >= 'a' and <= 'f' ? c - 'a' + 10 : -1;
            if (digit < 0)
                return false;
            version = (version << 4) | (uint)digit;
        }
        return true;
    }
}
