namespace AotKvs.Storage;

/// <summary>Why a store could not do what it was asked; the key endpoint turns each into a JSON answer.</summary>
internal enum StoreFailure
{
    /// <summary>The store cannot answer now (its disk or cluster); retrying later may work.</summary>
    Unavailable,

    /// <summary>The value is larger than this store accepts.</summary>
    ValueTooLarge,

    /// <summary>This store cannot check a precondition in the same step as the change.</summary>
    ConditionsUnsupported,

    /// <summary>This store cannot give a value a deadline.</summary>
    ExpiryUnsupported,

    /// <summary>This store cannot wait for a key to change: a waiting request is answered at once, as if it had not asked to wait.</summary>
    WatchUnsupported,
}

/// <summary>A store's refusal; <see cref="Exception.Message"/> says why, for the log, never for the client.</summary>
internal sealed class StoreException(StoreFailure failure, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public StoreFailure Failure { get; } = failure;
}
