namespace AotKvs.Storage.Etcd;

/// <summary>
/// One conditional PUT (a value, under <c>lease</c> when not 0) or DELETE (none) over etcd. Each attempt is one etcd Txn:
/// compares on the key's mod_revision, the change if they all hold, else a range of the key
/// that says its mod_revision then; so whatever an attempt decides, it decided in one step.
/// <para>
/// Most conditions are written as compares as they are: If-Match: * is "mod_revision &gt; 0",
/// If-None-Match: * is "= 0" (etcd compares an absent key as 0), If-None-Match tags are one
/// "≠ v" each, and If-Match with one tag is "= v". etcd's compares are all ANDed, so If-Match
/// with several tags cannot be one compare: the first attempt compares with the newest of
/// them; if it fails and the key's revision is another of them, the next attempt compares
/// with exactly that one. A condition that does not fit in compares (more If-None-Match tags
/// than <see cref="MostCompares"/>) starts from a read of the revision instead. Every later
/// attempt is "= the revision just read", after checking the condition against it here.
/// </para>
/// <para>
/// An attempt fails only while the key keeps moving between the versions named; after
/// <see cref="Attempts"/> of them the answer is 503 (nothing was written: a retry is safe).
/// 412 is given only for a revision that fails the condition, 404 (DELETE) for an absent key.
/// </para>
/// </summary>
internal sealed class EtcdConditional(EtcdStore store, EtcdChannel channel, byte[] prefix, ReadOnlyMemory<byte> key, ReadOnlyMemory<byte>? value, Precondition condition, long lease = 0)
{
    /// <summary>Below etcd's --max-txn-ops (128 by default), which counts compares too.</summary>
    public const int MostCompares = 64;

    public const int Attempts = 4;

    private bool IsDelete => value is null;

    public async ValueTask<WriteResult> RunAsync(CancellationToken cancel)
    {
        // A tag names a version in our scope: before the cluster has said who it is, no tag could be read.
        if (!store.KnowsScope)
            throw new StoreException(StoreFailure.Unavailable, "the etcd cluster's id is not known yet");
        var compares = FirstCompares();
        long current = compares is null ? await ReadRevisionAsync(cancel) : 0;
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            if (compares is null)
            {
                if (IsDelete && current == 0)
                    return new WriteResult(WriteOutcome.NotFound, 0);
                if (condition.Evaluate((ulong)current) != PreconditionResult.Holds)
                    return new WriteResult(WriteOutcome.PreconditionFailed, (ulong)current);
                compares = [new RevisionCompare(CompareResult.Equal, current)];
            }
            var request = EtcdProto.Txn(prefix, key.Span, compares, IsDelete, value.GetValueOrDefault().Span, lease);
            var answer = await channel.CallAsync(EtcdCall.Txn, request, cancel);
            var (txn, header) = EtcdStore.Read(answer, static a => (EtcdProto.Txn(a), EtcdProto.Header(a)));
            store.Learn(header);
            if (txn.Succeeded)
                return Changed(txn, header);
            if (txn.Op != TxnOp.Range)
                throw Unexpected("a failed txn without its range");
            current = Revision(txn.ModRevision);
            compares = null;
        }
        throw new StoreException(StoreFailure.Unavailable, $"the key changed under each of {Attempts} conditional attempts");
    }

    private WriteResult Changed(TxnAnswer txn, ResponseHeader header)
    {
        if (txn.Op != (IsDelete ? TxnOp.Delete : TxnOp.Put))
            throw Unexpected("a txn answered with another operation than its own");
        if (IsDelete)
            return new WriteResult(txn.Deleted > 0 ? WriteOutcome.Deleted : WriteOutcome.NotFound, 0);
        // The txn's revision is the one its put gave the key.
        store.Revoke(txn.PreviousLease, lease);
        return new WriteResult(txn.HasPreviousValue ? WriteOutcome.Replaced : WriteOutcome.Created, EtcdStore.Version(header.Revision));
    }

    /// <summary>The condition as compares for a first attempt, or null when it must start from a read.</summary>
    private RevisionCompare[]? FirstCompares()
    {
        var ifMatch = condition.IfMatch;
        var ifNoneMatch = condition.IfNoneMatch;
        if (ifMatch.Present && !ifMatch.Any)
        {
            // "= v" decides If-None-Match too, so the newest tag that If-None-Match leaves.
            ulong newest = 0;
            foreach (var version in ifMatch.Versions)
                if (version > newest && version <= long.MaxValue && condition.Evaluate(version) == PreconditionResult.Holds)
                    newest = version;
            return newest == 0 ? null : [new RevisionCompare(CompareResult.Equal, (long)newest)];
        }
        var compares = new List<RevisionCompare>();
        if (ifMatch.Any)
            compares.Add(new RevisionCompare(CompareResult.Greater, 0));
        if (ifNoneMatch.Any)
            compares.Add(new RevisionCompare(CompareResult.Equal, 0));
        else if (ifNoneMatch.Present)
        {
            if (ifNoneMatch.Versions.Length > MostCompares)
                return null;
            foreach (var version in ifNoneMatch.Versions)
                if (version <= long.MaxValue) // no revision is larger: "≠" holds anyway
                    compares.Add(new RevisionCompare(CompareResult.NotEqual, (long)version));
        }
        return [.. compares];
    }

    private async Task<long> ReadRevisionAsync(CancellationToken cancel)
    {
        var answer = await channel.CallAsync(EtcdCall.Range, EtcdProto.KeyOnly(prefix, key.Span), cancel);
        var (modRevision, header) = EtcdStore.Read(answer, static a => (EtcdProto.ModRevision(a), EtcdProto.Header(a)));
        store.Learn(header);
        return Revision(modRevision);
    }

    /// <summary>A key's mod_revision as read: 0 for an absent key, never negative.</summary>
    private static long Revision(long modRevision) => modRevision >= 0 ? modRevision : throw Unexpected($"a revision of {modRevision}");

    private static StoreException Unexpected(string what) =>
        new(StoreFailure.Unavailable, $"etcd answered what it never sends: {what}");
}
