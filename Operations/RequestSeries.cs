namespace AotKvs.Operations;

/// <summary>One (method, route, status) combination of answered requests.</summary>
internal readonly record struct RequestSeriesKey(string Method, string Route, int Status)
{
    public static readonly IEqualityComparer<RequestSeriesKey> Comparer = new CheapComparer();

    /// <summary>
    /// The strings come from the framework's constants (one per method and per route), so
    /// equality is almost always a reference check; the hash avoids hashing string contents.
    /// </summary>
    private sealed class CheapComparer : IEqualityComparer<RequestSeriesKey>
    {
        public bool Equals(RequestSeriesKey x, RequestSeriesKey y) =>
            x.Status == y.Status && string.Equals(x.Method, y.Method) && string.Equals(x.Route, y.Route);

        public int GetHashCode(RequestSeriesKey key) =>
            key.Status * 31 + key.Method.Length * 131 + key.Route.Length * 1021 + (key.Route.Length > 1 ? key.Route[1] : 0);
    }
}

/// <summary>
/// Request count and duration histogram of one series: a fixed set of buckets, updated
/// with interlocked adds (no locks, no allocation per request).
/// </summary>
internal sealed class RequestSeries
{
    /// <summary>Upper bounds in seconds; a local GET takes tens of microseconds, a forward a few hundred.</summary>
    public static readonly double[] Bounds =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly long[] _buckets = new long[Bounds.Length + 1]; // the last one is +Inf
    private long _sumNanoseconds;

    public void Record(double seconds)
    {
        var i = 0;
        while (i < Bounds.Length && seconds > Bounds[i])
            i++;
        Interlocked.Increment(ref _buckets[i]);
        Interlocked.Add(ref _sumNanoseconds, (long)(seconds * 1e9));
    }

    /// <summary>Cumulative counts per bound (the last is +Inf, the total count) and the sum in seconds.</summary>
    public (long[] Cumulative, double Sum) Snapshot()
    {
        var cumulative = new long[_buckets.Length];
        long running = 0;
        for (var i = 0; i < _buckets.Length; i++)
            cumulative[i] = running += Volatile.Read(ref _buckets[i]);
        return (cumulative, Volatile.Read(ref _sumNanoseconds) / 1e9);
    }
}
