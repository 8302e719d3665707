namespace AotKvs.Tests.Linearizability;

/// <summary>A violation planted once in a generated history, on a key of its own.</summary>
public enum Plant { StaleRead, LostWrite, WriteAppliedLate, DeletedKeyComesBack, CreatedForExistingKey }

/// <summary>
/// Histories of a correct register map without running a server: clients issue operations
/// back to back, each takes effect at a random point inside its interval, and the answers
/// are those of the register at that point. Some PUTs and DELETEs go unanswered (half of
/// them took effect), some GETs too, and main restarts now and then. Every PUT writes a
/// unique value, as the workload does.
/// <para>
/// A planted violation is a short sequence of one extra client on key gen-&lt;plant&gt;,
/// with one answer made wrong; the other clients stay off that key for a while around it,
/// and its unanswered writes and main's restarts come only after, so that nothing could
/// excuse the wrong answer.
/// </para>
/// </summary>
public static class HistoryGenerator
{
    public const int PlantClient = 99;
    private const int Keys = 8, Clients = 8, RestartEvery = 25_000;
    private const long Quiet = 200;

    private sealed record Step(int Client, OpKind Kind, int Key, long Value, long Invoke, long Point, long Complete,
        bool Answered, bool Applies, OpOutcome? Forced = null, long ForcedValue = 0);

    public static string KeyName(int key) => KeyNames[key];

    private static readonly string[] KeyNames = [.. Enumerable.Range(0, Keys).Select(k => $"gen-{k}")];

    public static List<Operation> Generate(int operations, int seed, IReadOnlyCollection<Plant>? plants = null)
    {
        plants ??= [];
        var random = new Random(seed);
        var steps = new List<Step>(operations + plants.Count * 8);
        var plantAt = new long[Keys];
        Array.Fill(plantAt, long.MinValue);
        var span = (long)operations / Clients * 14; // an operation takes 11.5 ticks on average: the plants land inside
        foreach (var plant in plants)
        {
            var key = (int)plant;
            plantAt[key] = span * (key + 1) / (plants.Count + 2);
            steps.AddRange(Planted(plant, key, plantAt[key]));
        }
        bool NearPlant(int key, long t) => plantAt[key] != long.MinValue && t > plantAt[key] - Quiet && t < plantAt[key] + Quiet;
        bool BeforePlantEnd(int key, long t) => plantAt[key] != long.MinValue && t < plantAt[key] + Quiet;

        var clock = new long[Clients];
        var seq = new int[Clients];
        var restarts = 0;
        while (steps.Count < operations)
        {
            var c = Array.IndexOf(clock, clock.Min()); // the client that is free first
            var invoke = clock[c] + random.Next(0, 4);
            var key = random.Next(Keys);
            if (NearPlant(key, invoke) || NearPlant(key, invoke + 20)) key = Keys - 1 - random.Next(2);
            var roll = random.Next(10);
            var kind = roll < 4 ? OpKind.Put : roll < 8 ? OpKind.Get : OpKind.Delete;
            var point = invoke + random.Next(1, 10);
            var complete = point + random.Next(1, 10);
            var answered = random.Next(200) != 0 || BeforePlantEnd(key, invoke);
            var applies = answered || random.Next(2) == 0;
            steps.Add(new Step(c, kind, key, (long)c * 100_000_000 + ++seq[c], invoke, point, complete, answered, applies));
            clock[c] = complete;
            if (steps.Count / RestartEvery > restarts)
            {
                restarts++;
                var at = clock.Max() + 5;
                if (!plantAt.Any(p => p != long.MinValue && Math.Abs(at - p) < Quiet * 2))
                    steps.Add(new Step(-1, OpKind.Reset, -1, 0, at, at + random.Next(1, 20), at + 20, true, true));
            }
        }
        return Answer(steps);
    }

    /// <summary>Plays the steps in the order they took effect on a correct register and records the answers.</summary>
    private static List<Operation> Answer(List<Step> steps)
    {
        steps.Sort(static (a, b) => a.Point.CompareTo(b.Point));
        var state = new long[Keys];
        Array.Fill(state, RegisterModel.Absent);
        var history = new List<Operation>(steps.Count);
        foreach (var s in steps)
        {
            if (s.Kind == OpKind.Reset)
            {
                Array.Fill(state, RegisterModel.Absent);
                history.Add(Operation.Restart(s.Invoke, s.Complete));
                continue;
            }
            var before = state[s.Key];
            var (outcome, value) = s.Kind switch
            {
                OpKind.Put => (before == RegisterModel.Absent ? OpOutcome.Created : OpOutcome.Replaced, s.Value),
                OpKind.Get => before == RegisterModel.Absent ? (OpOutcome.NotFound, 0L) : (OpOutcome.Found, before),
                _ => (before == RegisterModel.Absent ? OpOutcome.NotFound : OpOutcome.Deleted, 0L),
            };
            if (s.Applies && s.Kind != OpKind.Get)
                state[s.Key] = s.Kind == OpKind.Put ? s.Value : RegisterModel.Absent;
            if (s.Forced is { } forced)
                (outcome, value) = (forced, s.Kind == OpKind.Put ? s.Value : s.ForcedValue);
            if (!s.Answered)
                (outcome, value) = (OpOutcome.Unknown, s.Kind == OpKind.Put ? s.Value : 0);
            history.Add(new Operation(s.Client, s.Kind, KeyNames[s.Key], value, s.Invoke, s.Answered ? s.Complete : Operation.Never, outcome));
        }
        history.Sort(static (a, b) => a.Invoke.CompareTo(b.Invoke));
        return history;
    }

    /// <summary>One client's sequence on a quiet key, the last step answered wrongly.</summary>
    private static IEnumerable<Step> Planted(Plant plant, int key, long at)
    {
        long a = PlantClient * 100_000_000L + key * 10 + 1, b = a + 1;
        Step Op(int i, OpKind kind, long value = 0, OpOutcome? forced = null, long forcedValue = 0) =>
            new(PlantClient, kind, key, value, at + i * 4, at + i * 4 + 1, at + i * 4 + 2, true, true, forced, forcedValue);
        return plant switch
        {
            Plant.StaleRead => [Op(0, OpKind.Put, a), Op(1, OpKind.Put, b), Op(2, OpKind.Get, forced: OpOutcome.Found, forcedValue: a)],
            Plant.LostWrite => [Op(0, OpKind.Delete), Op(1, OpKind.Put, a), Op(2, OpKind.Get, forced: OpOutcome.NotFound)],
            Plant.WriteAppliedLate => [Op(0, OpKind.Delete), Op(1, OpKind.Put, a), Op(2, OpKind.Get, forced: OpOutcome.NotFound),
                Op(3, OpKind.Get, forced: OpOutcome.Found, forcedValue: a)],
            Plant.DeletedKeyComesBack => [Op(0, OpKind.Put, a), Op(1, OpKind.Delete), Op(2, OpKind.Get, forced: OpOutcome.Found, forcedValue: a)],
            _ => [Op(0, OpKind.Put, a), Op(1, OpKind.Put, b, forced: OpOutcome.Created)],
        };
    }
}
