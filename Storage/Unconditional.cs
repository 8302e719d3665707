namespace AotKvs.Storage;

/// <summary>For a store that does not yet check preconditions: a conditional write is refused, never done unchecked.</summary>
internal static class Unconditional
{
    public static void Require(Precondition condition)
    {
        if (!condition.IsNone)
            throw new StoreException(StoreFailure.ConditionsUnsupported, "this store does not check preconditions");
    }
}
