namespace AotKvs.Tests.Linearizability;

public enum OpKind { Put, Get, Delete, Reset }

/// <summary>What a client learned. Unknown: no answer (503, timeout, cut connection).</summary>
public enum OpOutcome { Created, Replaced, Deleted, Found, NotFound, Unknown }

/// <summary>
/// One operation in a history. Times are Stopwatch ticks on one clock; an Unknown outcome
/// completes at +infinity (long.MaxValue): it may take effect at any time after its
/// invocation, or never. <see cref="Value"/> is the value a PUT wrote or a GET read;
/// every PUT writes a value no other PUT writes, so a GET names the PUT it saw.
/// A Reset is main restarting: the store is empty again at some point in the window.
/// </summary>
public sealed record Operation(int Client, OpKind Kind, string Key, long Value, long Invoke, long Complete, OpOutcome Outcome)
{
    public const long Never = long.MaxValue;
    public const string AllKeys = "*";

    public bool IsIndeterminate => Outcome == OpOutcome.Unknown;

    /// <summary>
    /// Whether the answer is one the operation can have at all: a GET is found or not found,
    /// a PUT created or replaced, a DELETE deleted or not found. Anything else (a GET
    /// answered "created") is wrong whatever the store held.
    /// </summary>
    public bool AnswerBelongs => (Kind, Outcome) switch
    {
        (OpKind.Put, OpOutcome.Created or OpOutcome.Replaced or OpOutcome.Unknown) => true,
        (OpKind.Get, OpOutcome.Found or OpOutcome.NotFound or OpOutcome.Unknown) => true,
        (OpKind.Delete, OpOutcome.Deleted or OpOutcome.NotFound or OpOutcome.Unknown) => true,
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
        var result = Outcome == OpOutcome.Found ? $"found {Value}" : Outcome.ToString();
        return $"client {Client}: {what} -> {result} [{Invoke}, {done}]";
    }
}
