namespace AotKvs.Storage;

/// <summary>
/// What a request's If-Match and If-None-Match (RFC 9110 §13.1.1, §13.1.2) require of a
/// key's current version. A store checks it in the same step as the change it guards, so two
/// writes that carry the same version can never both succeed. The default is no condition.
/// </summary>
internal readonly struct Precondition(VersionSet ifMatch, VersionSet ifNoneMatch)
{
    public static Precondition None => default;

    public VersionSet IfMatch { get; } = ifMatch;

    public VersionSet IfNoneMatch { get; } = ifNoneMatch;

    public bool IsNone => !IfMatch.Present && !IfNoneMatch.Present;

    /// <summary>
    /// RFC 9110 §13.2.2, steps 1 and 3, for the key's <paramref name="current"/> version
    /// (0: the key is absent). A failed If-Match wins over If-None-Match.
    /// </summary>
    public PreconditionResult Evaluate(ulong current) =>
        IfMatch.Present && !IfMatch.Contains(current) ? PreconditionResult.IfMatchFailed
        : IfNoneMatch.Present && IfNoneMatch.Contains(current) ? PreconditionResult.IfNoneMatchFailed
        : PreconditionResult.Holds;
}

internal enum PreconditionResult { Holds, IfMatchFailed, IfNoneMatchFailed }

/// <summary>
/// The versions one header names: "*" (whatever version the key has now) or a list. A tag
/// that can never match here (another store's, or a weak tag in If-Match) is left out of the
/// list, but the header is still present: If-Match with only such tags always fails.
/// </summary>
internal readonly struct VersionSet
{
    private readonly ulong[]? _versions;

    private VersionSet(bool any, ulong[]? versions, bool namesAbsence = false)
    {
        Present = true;
        Any = any;
        _versions = versions;
        NamesAbsence = namesAbsence;
    }

    public static VersionSet AnyVersion => new(true, null);

    /// <param name="versions">The versions named.</param>
    /// <param name="namesAbsence">The list also holds the tag of "absent" (version 0), which only a waiting read uses.</param>
    public static VersionSet Of(ulong[] versions, bool namesAbsence = false) => new(false, versions, namesAbsence);

    public bool Present { get; }

    public bool Any { get; }

    /// <summary>
    /// The list holds the tag of "absent", which only a waiting read heeds: it waits while the
    /// key is absent. Everything else goes by <see cref="Contains"/>, which never names an
    /// absent key, so that tag changes no other answer.
    /// </summary>
    public bool NamesAbsence { get; }

    public ReadOnlySpan<ulong> Versions => _versions;

    /// <summary>Whether a key at <paramref name="current"/> (0: absent) is named: an absent key never is.</summary>
    public bool Contains(ulong current) =>
        Present && current != 0 && (Any || Versions.Contains(current));
}
