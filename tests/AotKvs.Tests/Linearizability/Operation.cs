namespace AotKvs.Tests.Linearizability;

public enum OpKind { Put, Get, Delete, Reset }

/// <summary>
/// What a client learned. Unknown: no answer (503, timeout, cut connection).
/// PreconditionFailed: a conditional PUT or DELETE answered 412, changing nothing.
/// </summary>
public enum OpOutcome { Created, Replaced, Deleted, Found, NotFound, Unknown, PreconditionFailed }

/// <summary>
/// One operation in a history. Times are Stopwatch ticks on one clock; an Unknown outcome
/// completes at +infinity (long.MaxValue): it may take effect at any time after its
/// invocation, or never. <see cref="Value"/> is the value a PUT wrote or a GET read;
/// every PUT writes a value no other PUT writes, so a GET names the PUT it saw.
/// A Reset is main restarting: the store is empty again at some point in the window.
/// A PUT or DELETE may carry a precondition: <see cref="IfMatch"/> and <see cref="IfNoneMatch"/>
/// each name one entity-tag or "*". <see cref="Tag"/> is the ETag of the answer: of the value
/// a GET read, of the value a PUT stored, or (a 412) of the value current then, null when the
/// key was absent.
/// </summary>
public sealed record Operation(int Client, OpKind Kind, string Key, long Value, long Invoke, long Complete, OpOutcome Outcome,
    string? IfMatch = null, string? IfNoneMatch = null, string? Tag = null)
{
    public const long Never = long.MaxValue;
    public const string AllKeys = "*";

    public bool IsIndeterminate => Outcome == OpOutcome.Unknown;

    public bool IsConditional => IfMatch is not null || IfNoneMatch is not null;

    /// <summary>
    /// Whether the answer is one the operation can have at all: a GET is found or not found,
    /// a PUT created or replaced, a DELETE deleted or not found. Anything else (a GET
    /// answered "created") is wrong whatever the store held.
    /// </summary>
    public bool AnswerBelongs => (Kind, Outcome) switch
    {
        (OpKind.Put, OpOutcome.Created or OpOutcome.Replaced or OpOutcome.Unknown) => true,
        (OpKind.Get, OpOutcome.Found or OpOutcome.NotFound or OpOutcome.Unknown) => !IsConditional,
        (OpKind.Delete, OpOutcome.Deleted or OpOutcome.NotFound or OpOutcome.Unknown) => true,
        (OpKind.Put or OpKind.Delete, OpOutcome.PreconditionFailed) => IsConditional,
        (OpKind.Reset, OpOutcome.Deleted) => true,
        _ => false,
    };

    public static Operation Restart(long start, long end) => new(-1, OpKind.Reset, AllKeys, 0, start, end, OpOutcome.Deleted);

    public override string ToString()
    {
        var done = Complete == Never ? "inf" : Complete.ToString();
        var what = Kind switch
        {
            OpKind.Put => $"PUT {Key}={Value}",
            OpKind.Get => $"GET {Key}",
            OpKind.Delete => $"DELETE {Key}",
            _ => "RESTART main",
        };
        if (IfMatch is not null) what += $" If-Match: {IfMatch}";
        if (IfNoneMatch is not null) what += $" If-None-Match: {IfNoneMatch}";
        var result = Outcome == OpOutcome.Found ? $"found {Value}" : Outcome.ToString();
        if (Tag is not null) result += $" ETag: {Tag}";
        return $"client {Client}: {what} -> {result} [{Invoke}, {done}]";
    }
}
