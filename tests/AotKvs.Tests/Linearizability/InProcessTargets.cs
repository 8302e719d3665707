using System.Collections.Concurrent;
using System.Text;
using AotKvs.Storage;

namespace AotKvs.Tests.Linearizability;

/// <summary>
/// A service store called in-process through its interface, with tags as main writes them:
/// what the checker should pass. A store that cannot check preconditions throws on a
/// conditional write (ConditionsUnsupported).
/// </summary>
internal sealed class StoreTarget(IKeyValueStore store) : IKvsTarget
{
    public string Name => "store";

    public async Task<Reply> PutAsync(string key, long value, WriteCondition condition, CancellationToken cancel)
    {
        await Task.Yield(); // let the clients interleave
        var result = await store.PutAsync(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value.ToString()),
            StoreTags.Read(store.VersionScope ?? "", condition), cancel);
        return Answer(result);
    }

    public async Task<Reply> GetAsync(string key, CancellationToken cancel)
    {
        await Task.Yield();
        var read = await store.GetAsync(Encoding.UTF8.GetBytes(key), cancel);
        return read.Found
            ? new Reply(OpOutcome.Found, long.Parse(Encoding.UTF8.GetString(read.Json.Span)), Tag: StoreTags.Format(store.VersionScope ?? "", read.Version))
            : new Reply(OpOutcome.NotFound);
    }

    public async Task<Reply> DeleteAsync(string key, WriteCondition condition, CancellationToken cancel)
    {
        await Task.Yield();
        return Answer(await store.DeleteAsync(Encoding.UTF8.GetBytes(key), StoreTags.Read(store.VersionScope ?? "", condition), cancel));
    }

    private Reply Answer(WriteResult result) => new(result.Outcome switch
    {
        WriteOutcome.Created => OpOutcome.Created,
        WriteOutcome.Replaced => OpOutcome.Replaced,
        WriteOutcome.Deleted => OpOutcome.Deleted,
        WriteOutcome.NotFound => OpOutcome.NotFound,
        _ => OpOutcome.PreconditionFailed,
    }, Tag: StoreTags.Format(store.VersionScope ?? "", result.Version));

    public void Dispose() { }
}

/// <summary>
/// A store with the classic bug: PUT checks whether the key exists, then sets it, with a
/// pause in between, so two racing PUTs can both answer "created". The checker must catch it.
/// It has no versions: a precondition is refused.
/// </summary>
public sealed class CheckThenSetStore : IKvsTarget
{
    private readonly ConcurrentDictionary<string, long> _entries = new();

    public string Name => "check-then-set";

    public async Task<Reply> PutAsync(string key, long value, WriteCondition condition, CancellationToken cancel)
    {
        if (condition != WriteCondition.None)
            return Reply.Unexpected("no preconditions here");
        var existed = _entries.ContainsKey(key);
        await Task.Delay(1, cancel);
        _entries[key] = value;
        return new Reply(existed ? OpOutcome.Replaced : OpOutcome.Created);
    }

    public async Task<Reply> GetAsync(string key, CancellationToken cancel)
    {
        await Task.Yield();
        return _entries.TryGetValue(key, out var value) ? new Reply(OpOutcome.Found, value) : new Reply(OpOutcome.NotFound);
    }

    public async Task<Reply> DeleteAsync(string key, WriteCondition condition, CancellationToken cancel)
    {
        if (condition != WriteCondition.None)
            return Reply.Unexpected("no preconditions here");
        await Task.Yield();
        return new Reply(_entries.TryRemove(key, out _) ? OpOutcome.Deleted : OpOutcome.NotFound);
    }

    /// <summary>Shared by all clients; disposing one client's handle does nothing.</summary>
    public void Dispose() { }
}

/// <summary>
/// A versioned store with the compare-and-set bug: a conditional write checks the tag, yields,
/// then writes, so two writes that carry the same tag can both succeed (a lost update). Every
/// single step is atomic and every tag well formed; only the check and the change are apart.
/// The checker must catch it.
/// </summary>
public sealed class CheckThenWriteStore : IKvsTarget
{
    private const string Scope = "0123456789abcdef";
    private readonly ConcurrentDictionary<string, (long Value, ulong Version)> _entries = new();
    private long _lastVersion;

    public string Name => "check-then-write";

    public async Task<Reply> PutAsync(string key, long value, WriteCondition condition, CancellationToken cancel)
    {
        var current = Current(key);
        if (StoreTags.Read(Scope, condition).Evaluate(current) != PreconditionResult.Holds)
            return Failed(current);
        await Task.Yield(); // the bug: another write may land here
        var version = (ulong)Interlocked.Increment(ref _lastVersion);
        var created = false;
        _entries.AddOrUpdate(key, _ => { created = true; return (value, version); }, (_, _) => { created = false; return (value, version); });
        return new Reply(created ? OpOutcome.Created : OpOutcome.Replaced, Tag: StoreTags.Format(Scope, version));
    }

    public async Task<Reply> GetAsync(string key, CancellationToken cancel)
    {
        await Task.Yield();
        return _entries.TryGetValue(key, out var entry)
            ? new Reply(OpOutcome.Found, entry.Value, Tag: StoreTags.Format(Scope, entry.Version))
            : new Reply(OpOutcome.NotFound);
    }

    public async Task<Reply> DeleteAsync(string key, WriteCondition condition, CancellationToken cancel)
    {
        var current = Current(key);
        if (current != 0 && StoreTags.Read(Scope, condition).Evaluate(current) != PreconditionResult.Holds)
            return Failed(current);
        await Task.Yield();
        return new Reply(_entries.TryRemove(key, out _) ? OpOutcome.Deleted : OpOutcome.NotFound);
    }

    private ulong Current(string key) => _entries.TryGetValue(key, out var entry) ? entry.Version : 0;

    private static Reply Failed(ulong current) => new(OpOutcome.PreconditionFailed, Tag: StoreTags.Format(Scope, current));

    /// <summary>Shared by all clients; disposing one client's handle does nothing.</summary>
    public void Dispose() { }
}
