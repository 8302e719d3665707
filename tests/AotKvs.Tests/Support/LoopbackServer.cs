using System.Net;
using System.Net.Sockets;

namespace AotKvs.Tests.Support;

/// <summary>
/// A stand-in server on a free loopback port: accepts connections until it is disposed and
/// serves each on a task of its own, as the derived class says. The stand-in mains of the
/// tests (<see cref="FakeMain"/>, <see cref="BrokenMain"/>, <see cref="MisbehavingMain"/>, the forwarder tests' scripted main) are made of it.
/// </summary>
public abstract class LoopbackServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public string Address => $"127.0.0.1:{Port}";

    /// <summary>Cancelled when the server is disposed.</summary>
    protected CancellationToken Stopping => _stop.Token;

    /// <summary>Listens and accepts; called last in the derived constructor, once what it serves with is set.</summary>
    protected void Start()
    {
        _listener.Start(512);
        _ = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Runs on the accept loop for each connection, before it is served.</summary>
    protected virtual void Accepted() { }

    /// <summary>Serves one connection; it is the caller's to close.</summary>
    protected abstract Task ServeAsync(TcpClient client);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            Accepted();
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        GC.SuppressFinalize(this);
    }
}
