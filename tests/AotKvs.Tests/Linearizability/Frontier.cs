using System.Diagnostics;
using System.Numerics;

namespace AotKvs.Tests.Linearizability;

/// <summary>How a run over a key's events ended: Failed is the event no configuration survived, or -1.</summary>
public readonly record struct FrontierResult(int Failed, string? OutOfBudget, long Steps, int PeakConfigurations);

/// <summary>
/// Lowe's just-in-time linearization, run forward over one key's events: the set of every
/// configuration the register can be in (its state, which open operations have taken
/// effect, how many unanswered-write tokens are spent), closed under letting any open
/// operation or token take effect. A call opens an operation; a return keeps only the
/// configurations in which it took effect, and forgets it. An empty set is a violation.
/// Memory holds only the current set, whatever the history's length; a token spent is
/// never better than one kept, so only configurations no other dominates are kept.
/// </summary>
public sealed class Frontier
{
    /// <summary>Open operations are bits of a 64-bit mask.</summary>
    public const int MaxOpen = 64;

    private readonly record struct Config(long State, ulong Taken, int Puts, int Deletes);

    private readonly KeyHistory _history;
    private readonly int[] _slotOp = new int[MaxOpen];
    private readonly int[] _opSlot;
    private ulong _open, _pastAllowed;
    private int _putTokens, _deleteTokens;
    private Dictionary<(long, ulong), List<(int Puts, int Deletes)>> _set = [], _spare = [];
    private readonly Stack<Config> _work = new();
    private long _steps;
    private int _count, _peak;
    private readonly int _maxConfigurations;

    /// <summary>
    /// From the start (empty store), or, for a window, from every state at event
    /// <paramref name="start"/>: present with an earlier value or absent, each operation
    /// open then possibly done already, every earlier token unspent.
    /// </summary>
    public Frontier(KeyHistory history, int start, int maxConfigurations)
    {
        _history = history;
        _maxConfigurations = maxConfigurations;
        _opSlot = new int[history.Ops.Length];
        Array.Fill(_opSlot, -1);
        if (start == 0)
        {
            Add(new Config(RegisterModel.Absent, 0, 0, 0));
            return;
        }
        var done = new bool[history.Ops.Length];
        for (var i = 0; i < start; i++)
        {
            var e = history.Events[i];
            if (e.Kind == EventKind.Return) done[e.Op] = true;
        }
        for (var i = 0; i < start; i++)
        {
            var e = history.Events[i];
            if (e.Kind == EventKind.Token) Count(e.Op);
            else if (e.Kind == EventKind.Call && !done[e.Op] && Open(e.Op) is { } slot) _pastAllowed |= 1UL << slot;
        }
        Add(new Config(RegisterModel.Absent, 0, 0, 0));
        Add(new Config(RegisterModel.Earlier, 0, 0, 0));
        Close();
    }

    /// <summary>Runs events [from, to): the first event no configuration survives, or -1.</summary>
    public FrontierResult Run(int from, int to, TimeSpan budget)
    {
        var clock = Stopwatch.StartNew();
        for (var i = from; i < to; i++)
        {
            if ((i & 1023) == 0 && clock.Elapsed >= budget)
                return new(i, $"time budget of {budget.TotalSeconds:F0} s spent at event {i} of {_history.Events.Length}", _steps, _peak);
            var e = _history.Events[i];
            switch (e.Kind)
            {
                case EventKind.Call:
                    if (Open(e.Op) is not { } slot)
                        return new(i, $"more than {MaxOpen} operations open at once", _steps, _peak);
                    foreach (var c in Snapshot())
                        TryOp(c, slot);
                    break;
                case EventKind.Token:
                    Count(e.Op);
                    foreach (var c in Snapshot())
                        TryTokens(c);
                    break;
                default:
                    if (!Finish(e.Op))
                        return new(i, null, _steps, _peak);
                    break;
            }
            Close();
            if (_count > _maxConfigurations)
                return new(i, $"memory budget: more than {_maxConfigurations} configurations at once", _steps, _peak);
            if (_count == 0)
                return new(i, null, _steps, _peak);
        }
        return new(-1, null, _steps, _peak);
    }

    private int? Open(int op)
    {
        if (_open == ulong.MaxValue) return null;
        var slot = BitOperations.TrailingZeroCount(~_open);
        _open |= 1UL << slot;
        _slotOp[slot] = op;
        _opSlot[op] = slot;
        return slot;
    }

    private void Count(int op)
    {
        if (_history.Ops[op].Kind == OpKind.Put) _putTokens++;
        else _deleteTokens++;
    }

    /// <summary>
    /// Keeps the configurations in which the operation took effect, without it. What they
    /// lead to was already in the set, so there is nothing new to close over.
    /// </summary>
    private bool Finish(int op)
    {
        var slot = _opSlot[op];
        if (slot < 0) return false; // it ended before it began: a read of a write not yet sent
        var bit = 1UL << slot;
        (_set, _spare) = (_spare, _set);
        _set.Clear();
        _count = 0;
        foreach (var ((state, taken), front) in _spare)
            if ((taken & bit) != 0)
                foreach (var (puts, deletes) in front)
                    Add(new Config(state, taken & ~bit, puts, deletes), explore: false);
        _spare.Clear();
        _open &= ~bit;
        _pastAllowed &= ~bit;
        _opSlot[op] = -1;
        return _count > 0;
    }

    private List<Config> Snapshot()
    {
        var all = new List<Config>(_count);
        foreach (var ((state, taken), front) in _set)
            foreach (var (puts, deletes) in front)
                all.Add(new Config(state, taken, puts, deletes));
        return all;
    }

    private void Close()
    {
        while (_work.TryPop(out var c))
        {
            for (var pending = _open & ~c.Taken; pending != 0; pending &= pending - 1)
                TryOp(c, BitOperations.TrailingZeroCount(pending));
            TryTokens(c);
        }
    }

    private void TryOp(Config c, int slot)
    {
        var bit = 1UL << slot;
        if ((c.Taken & bit) != 0) return;
        _steps++;
        var op = _slotOp[slot];
        if ((_pastAllowed & bit) != 0 || _history.Ops[op] is { IsIndeterminate: true, IsConditional: true })
            Add(c with { Taken = c.Taken | bit }); // took effect before the window, or (unanswered and conditional) never
        if (RegisterModel.Step(c.State, _history.Ops[op], _history.Terms[op], out var next))
            Add(c with { State = next, Taken = c.Taken | bit });
    }

    /// <summary>
    /// An unread PUT only helps an absent key, unless a precondition may tell its value from
    /// the one it replaced; a DELETE only helps a present one.
    /// </summary>
    private void TryTokens(Config c)
    {
        if ((c.State == RegisterModel.Absent || _history.Conditional && c.State != RegisterModel.Unread) && c.Puts < _putTokens)
            Add(c with { State = RegisterModel.Unread, Puts = c.Puts + 1 });
        if (c.State != RegisterModel.Absent && c.Deletes < _deleteTokens)
            Add(c with { State = RegisterModel.Absent, Deletes = c.Deletes + 1 });
    }

    /// <summary>Keeps the configuration unless another dominates it; explore: close over it later.</summary>
    private void Add(Config c, bool explore = true)
    {
        if (!_set.TryGetValue((c.State, c.Taken), out var front))
            _set[(c.State, c.Taken)] = front = new List<(int, int)>(1);
        for (var i = front.Count - 1; i >= 0; i--)
        {
            var (puts, deletes) = front[i];
            if (puts <= c.Puts && deletes <= c.Deletes) return;
            if (c.Puts <= puts && c.Deletes <= deletes)
            {
                front.RemoveAt(i);
                _count--;
            }
        }
        front.Add((c.Puts, c.Deletes));
        _count++;
        _peak = Math.Max(_peak, _count);
        if (explore)
            _work.Push(c);
    }
}
