using System.Diagnostics;

namespace AotKvs.Tests.Support;

/// <summary>Bounded waiting: check a condition every few milliseconds until it holds or time is up.</summary>
public static class Poll
{
    public static async Task<bool> UntilAsync(Func<Task<bool>> condition, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition())
                return true;
            if (clock.Elapsed > bound)
                return false;
            await Task.Delay(20);
        }
    }

    public static bool Until(Func<bool> condition, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > bound)
                return false;
            Thread.Sleep(20);
        }
        return true;
    }
}
