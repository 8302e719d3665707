namespace AotKvs.Protocol;

internal enum KeyStatus { Valid, Missing, Malformed, NotKeyPath }

/// <summary>
/// Where a key request is recognised, on both roles: a raw path under "/kvs". How the key
/// itself is decoded and how long it may be is main's business (Endpoints/KeyRules.cs).
/// </summary>
internal static class KeyPath
{
    public const string Prefix = "/kvs";

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
}
