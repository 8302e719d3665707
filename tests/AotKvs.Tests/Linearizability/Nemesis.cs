using AotKvs.Tests.Support;

namespace AotKvs.Tests.Linearizability;

/// <summary>
/// Breaks a running main + forwarders in turn while a workload runs: main frozen (SIGSTOP
/// then SIGCONT: its sockets stay open and silent, as when its host drops off the network),
/// main killed with SIGKILL and restarted on the same port (recorded as a restart, since
/// the store is empty again), a forwarder killed and restarted on its port; and, when main
/// runs in a network namespace, main cut off the network for real for 3 s. With
/// <paramref name="restartDurableMain"/> (main on a data dir) a kill is an ordinary crash,
/// not a restart: the data must survive it.
/// </summary>
public sealed class Nemesis(ServerProcess main, IReadOnlyList<ServerProcess> forwarders, Workload workload,
    NetworkNamespace? network = null, Func<int, ServerProcess>? restartDurableMain = null) : IDisposable
{
    private readonly List<ServerProcess> _forwarders = [.. forwarders];
    private readonly List<string> _log = [];

    public ServerProcess Main { get; private set; } = main;
    public IReadOnlyList<string> Log => _log;

    public async Task RunAsync(TimeSpan duration, TimeSpan quiet)
    {
        var end = DateTime.UtcNow + duration;
        Func<Task>[] faults = network is null
            ? [FreezeMainAsync, KillMainAsync, () => RestartForwarderAsync(0), FreezeMainAsync, () => RestartForwarderAsync(1)]
            : [CutMainAsync, FreezeMainAsync, KillMainAsync, CutMainAsync, () => RestartForwarderAsync(0), () => RestartForwarderAsync(1)];
        await Task.Delay(quiet);
        for (var i = 0; DateTime.UtcNow + quiet < end; i++)
        {
            await faults[i % faults.Length]();
            await Task.Delay(quiet);
        }
    }

    private async Task FreezeMainAsync()
    {
        Main.SendSignal("STOP");
        await Task.Delay(1500);
        Main.SendSignal("CONT");
        _log.Add("main frozen 1.5 s");
    }

    private async Task CutMainAsync()
    {
        network!.Cut();
        await Task.Delay(3000);
        network.Heal();
        _log.Add("main cut off the network 3 s");
    }

    private Task KillMainAsync()
    {
        var port = Main.Port;
        var start = Workload.Now;
        Main.Kill();
        Main.Dispose();
        if (restartDurableMain is not null)
        {
            Main = restartDurableMain(port);
            _log.Add("main killed (SIGKILL) and restarted on its data dir");
            return Task.CompletedTask;
        }
        Main = network is null ? ServerProcess.StartMain(port) : ServerProcess.StartMainIn(network, port);
        workload.Record(Operation.Restart(start, Workload.Now));
        _log.Add("main killed (SIGKILL) and restarted");
        return Task.CompletedTask;
    }

    private Task RestartForwarderAsync(int i)
    {
        var old = _forwarders[i];
        old.Kill();
        old.Dispose();
        _forwarders[i] = ServerProcess.StartForwarder(Main.Address, old.Port);
        _log.Add($"forwarder {i + 1} killed and restarted");
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        Main.Dispose();
        foreach (var forwarder in _forwarders)
            forwarder.Dispose();
    }
}
