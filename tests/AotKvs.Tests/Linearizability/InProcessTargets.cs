using System.Collections.Concurrent;
using System.Text;
using AotKvs.Storage.Memory;
using AotKvs.Storage;

namespace AotKvs.Tests.Linearizability;

/// <summary>The service's own store, called in-process: what the checker should pass.</summary>
internal sealed class StoreTarget(MemoryStore store) : IKvsTarget
{
    public string Name => "store";

    public async Task<Reply> PutAsync(string key, long value, CancellationToken cancel)
    {
        await Task.Yield(); // let the clients interleave
        var outcome = store.Put(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value.ToString()));
        return new Reply(outcome == PutOutcome.Created ? OpOutcome.Created : OpOutcome.Replaced);
    }

    public async Task<Reply> GetAsync(string key, CancellationToken cancel)
    {
        await Task.Yield();
        return store.TryGet(Encoding.UTF8.GetBytes(key), out var entry)
            ? new Reply(OpOutcome.Found, long.Parse(Encoding.UTF8.GetString(Entry.Value(entry))))
            : new Reply(OpOutcome.NotFound);
    }

    public async Task<Reply> DeleteAsync(string key, CancellationToken cancel)
    {
        await Task.Yield();
        return new Reply(store.TryRemove(Encoding.UTF8.GetBytes(key)) ? OpOutcome.Deleted : OpOutcome.NotFound);
    }

    public void Dispose() { }
}

/// <summary>
/// A store with the classic bug: PUT checks whether the key exists, then sets it, with a
/// pause in between, so two racing PUTs can both answer "created". The checker must catch it.
/// </summary>
public sealed class CheckThenSetStore : IKvsTarget
{
    private readonly ConcurrentDictionary<string, long> _entries = new();

    public string Name => "check-then-set";

    public async Task<Reply> PutAsync(string key, long value, CancellationToken cancel)
    {
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

    public async Task<Reply> DeleteAsync(string key, CancellationToken cancel)
    {
        await Task.Yield();
        return new Reply(_entries.TryRemove(key, out _) ? OpOutcome.Deleted : OpOutcome.NotFound);
    }

    /// <summary>Shared by all clients; disposing one client's handle does nothing.</summary>
    public void Dispose() { }
}
