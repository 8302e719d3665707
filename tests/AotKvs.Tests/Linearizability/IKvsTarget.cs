namespace AotKvs.Tests.Linearizability;

/// <summary>What one request came back with, as far as the client can tell; <see cref="Tag"/> is the answer's ETag.</summary>
public readonly record struct Reply(OpOutcome Outcome, long Value = 0, bool NeverSent = false, string? Anomaly = null, string? Tag = null)
{
    /// <summary>Refused before a byte was sent: certainly no effect, left out of the history.</summary>
    public static Reply NotSent => new(OpOutcome.Unknown, 0, true);

    /// <summary>An answer the SPEC does not allow here (a 500, a wrong body): counted as an error.</summary>
    public static Reply Unexpected(string what) => new(OpOutcome.Unknown, 0, false, what);
}

/// <summary>A write's precondition: one entity-tag or "*" for each header, null for none.</summary>
public readonly record struct WriteCondition(string? IfMatch = null, string? IfNoneMatch = null)
{
    public static WriteCondition None => default;
}

/// <summary>
/// Something a workload client talks to: a real instance over HTTP, or a store in-process.
/// A client owns its target object and uses it for one operation at a time.
/// </summary>
public interface IKvsTarget : IDisposable
{
    string Name { get; }
    Task<Reply> PutAsync(string key, long value, WriteCondition condition, CancellationToken cancel);
    Task<Reply> GetAsync(string key, CancellationToken cancel);
    Task<Reply> DeleteAsync(string key, WriteCondition condition, CancellationToken cancel);
}
