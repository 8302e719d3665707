namespace AotKvs.Tests.Linearizability;

/// <summary>
/// The set of operations linearized so far, as a bitset with an incrementally kept hash,
/// so the search's memo can compare sets quickly.
/// </summary>
internal sealed class OpSet(int size)
{
    private readonly ulong[] _bits = new ulong[(size + 63) / 64];
    private ulong _hash;

    public void Add(int id)
    {
        _bits[id >> 6] |= 1UL << (id & 63);
        _hash ^= Mix((ulong)id);
    }

    public void Remove(int id)
    {
        _bits[id >> 6] &= ~(1UL << (id & 63));
        _hash ^= Mix((ulong)id);
    }

    public Snapshot Snap() => new((ulong[])_bits.Clone(), _hash);

    /// <summary>SplitMix64: a well-spread 64-bit hash per operation id.</summary>
    private static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    public readonly struct Snapshot(ulong[] bits, ulong hash) : IEquatable<Snapshot>
    {
        private readonly ulong[] _bits = bits;
        private readonly ulong _hash = hash;

        public bool Equals(Snapshot other) => _hash == other._hash && _bits.AsSpan().SequenceEqual(other._bits);
        public override bool Equals(object? obj) => obj is Snapshot other && Equals(other);
        public override int GetHashCode() => (int)(_hash ^ (_hash >> 32));
    }
}
