using System.Buffers;

namespace AotKvs.Protocol;

/// <summary>
/// A byte buffer whose size is reserved from a <see cref="BufferBudget"/> for as long as it
/// is held. Small buffers come from the shared pool; large ones are plain arrays, because
/// the shared pool would keep dozens of them per size for a minute or more after a burst of
/// large bodies, memory no trimming collection gives back.
/// </summary>
internal struct BudgetedBuffer : IDisposable
{
    /// <summary>Buffers up to this size are pooled (the pool keeps at most a few MiB of them).</summary>
    public const int PooledBytes = 64 * 1024;

    private readonly BufferBudget? _budget;
    private long _reserved;

    private BudgetedBuffer(BufferBudget budget, byte[] array, long reserved)
    {
        _budget = budget;
        Array = array;
        _reserved = reserved;
    }

    public byte[] Array { readonly get; private set; }

    /// <summary>A buffer of at least <paramref name="size"/> bytes, or false when the budget cannot cover it.</summary>
    public static bool TryRent(BufferBudget budget, int size, out BudgetedBuffer buffer)
    {
        size = Math.Max(size, 1);
        if (!budget.TryReserve(size))
        {
            buffer = default;
            return false;
        }
        buffer = new BudgetedBuffer(budget, Allocate(size), size);
        return true;
    }

    /// <summary>
    /// A small buffer reserved even past the limit: for what must be held whatever the load
    /// (main's small answers), bounded by the caller.
    /// </summary>
    public static BudgetedBuffer RentAnyway(BufferBudget budget, int size)
    {
        size = Math.Max(size, 1);
        budget.ReserveAnyway(size);
        return new BudgetedBuffer(budget, Allocate(size), size);
    }

    /// <summary>Grows to at least <paramref name="size"/> bytes, keeping the first <paramref name="used"/>; false when the budget cannot cover it.</summary>
    public bool TryGrow(int size, int used)
    {
        var extra = size - _reserved;
        if (extra <= 0)
            return true;
        if (!_budget!.TryReserve(extra))
            return false;
        var grown = Allocate(size);
        Array.AsSpan(0, used).CopyTo(grown);
        Return(Array);
        Array = grown;
        _reserved = size;
        return true;
    }

    private static byte[] Allocate(int size) =>
        size <= PooledBytes ? ArrayPool<byte>.Shared.Rent(size) : GC.AllocateUninitializedArray<byte>(size);

    private static void Return(byte[] array)
    {
        if (array.Length <= PooledBytes)
            ArrayPool<byte>.Shared.Return(array);
    }

    public void Dispose()
    {
        if (Array is null)
            return;
        Return(Array);
        _budget!.Release(_reserved);
        Array = null!;
        _reserved = 0;
    }
}
