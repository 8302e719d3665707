using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace AotKvs.Tests.Support;

/// <summary>
/// One running instance of the published AotKvs binary on a loopback port: started as a
/// real process, ready once it answers HTTP, killed on dispose.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerProcess(Process process, int port, string host = "127.0.0.1")
    {
        _process = process;
        Port = port;
        Host = host;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Port { get; }
    /// <summary>The IPv4 address it listens on: loopback, or its address inside a network namespace.</summary>
    public string Host { get; }
    public Uri BaseUri => new($"http://{Host}:{Port}");
    public string Address => $"{Host}:{Port}";
    public bool HasExited => _process.HasExited;
    public int Pid => _process.Id;

    /// <summary>Descriptors the process holds now (sockets included), from /proc.</summary>
    public int OpenFiles => Directory.GetFiles($"/proc/{_process.Id}/fd").Length;

    /// <summary>Resident memory now (VmRSS), in KiB, from /proc.</summary>
    public long ResidentKib
    {
        get
        {
            var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]);
        }
    }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>Path of the published binary: $KVS_BINARY, else artifacts/publish/AotKvs.</summary>
    public static string BinaryPath
    {
        get
        {
            var configured = Environment.GetEnvironmentVariable("KVS_BINARY");
            if (!string.IsNullOrEmpty(configured))
                return configured;
            var path = Path.Combine(RepoRoot, "artifacts", "publish", "AotKvs");
            if (!File.Exists(path))
                throw new FileNotFoundException($"Publish the service first (scripts/test.sh does): {path} is missing");
            return path;
        }
    }

    internal static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "AotKvs.csproj")))
                    return dir.FullName;
            throw new DirectoryNotFoundException("AotKvs.csproj not found above " + AppContext.BaseDirectory);
        }
    }

    public static ServerProcess StartMain(int? port = null, params (string Name, string Value)[] env) =>
        port is { } fixedPort ? Start(fixedPort, env) : StartOnFreePort(env);

    public static ServerProcess StartForwarder(string forwardingAddress, int? port = null, params (string Name, string Value)[] env) =>
        port is { } fixedPort
            ? Start(fixedPort, [("FORWARDING_ADDRESS", forwardingAddress), .. env])
            : StartOnFreePort([("FORWARDING_ADDRESS", forwardingAddress), .. env]);

    /// <summary>
    /// A port the OS called free can be taken by a parallel test before the server binds
    /// it; then the server exits at once saying so, and another port is tried.
    /// </summary>
    private static ServerProcess StartOnFreePort((string Name, string Value)[] env)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return Start(FreePort.Next(), env);
            }
            catch (InvalidOperationException e) when (attempt < 5 && e.Message.Contains("cannot listen", StringComparison.Ordinal))
            {
            }
        }
    }

    /// <summary>Starts the binary and waits (bounded) until it answers on its port.</summary>
    public static ServerProcess Start(int port, (string Name, string Value)[] env, params string[] extraArgs)
    {
        var server = Launch(env, ["--urls", $"http://127.0.0.1:{port}", .. extraArgs], port);
        server.WaitUntilListening(TimeSpan.FromSeconds(15));
        return server;
    }

    /// <summary>Starts main inside a network namespace (as root), listening on its address there.</summary>
    public static ServerProcess StartMainIn(NetworkNamespace network, int port)
    {
        var server = Launch([], ["--urls", $"http://{network.InsideAddress}:{port}"], port,
            ["netns", "exec", network.Name, BinaryPath], network.InsideAddress);
        server.WaitUntilListening(TimeSpan.FromSeconds(15));
        return server;
    }

    /// <summary>Starts the binary without waiting; for tests of start-up itself.</summary>
    public static ServerProcess Launch((string Name, string Value)[] env, string[] args, int port = 0) =>
        Launch(env, args, port, [], "127.0.0.1");

    /// <summary>With a launcher prefix, "ip netns exec NAME binary": ip execs the binary, so the pid is the server's.</summary>
    private static ServerProcess Launch((string Name, string Value)[] env, string[] args, int port, string[] launcher, string host)
    {
        var info = new ProcessStartInfo(launcher.Length > 0 ? "ip" : BinaryPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in launcher.Concat(args))
            info.ArgumentList.Add(arg);
        // A clean environment for the settings the service reads.
        info.Environment.Remove("FORWARDING_ADDRESS");
        info.Environment.Remove("ASPNETCORE_URLS");
        info.Environment.Remove("ASPNETCORE_HTTP_PORTS");
        foreach (var (name, value) in env)
            info.Environment[name] = value;
        return new ServerProcess(Process.Start(info)!, port, host);
    }

    public void WaitUntilListening(TimeSpan bound)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < bound)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit(); // drains the redirected output, so the message is complete
                throw new InvalidOperationException($"AotKvs exited with {_process.ExitCode}:\n{Output}");
            }
            try
            {
                using var socket = new TcpClient();
                socket.Connect(Host, Port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(10);
            }
        }
        throw new TimeoutException($"AotKvs did not listen on {Port} within {bound}:\n{Output}");
    }

    /// <summary>
    /// Sends a signal by name: TERM, INT, KILL, or STOP/CONT (a stopped process keeps its
    /// sockets open but never answers, like a host that vanished from the network).
    /// </summary>
    public void SendSignal(string name)
    {
        using var kill = Process.Start("kill", [$"-{name}", _process.Id.ToString()]);
        kill.WaitForExit();
    }

    public bool WaitForExit(TimeSpan bound) => _process.WaitForExit(bound);

    /// <summary>Waits (bounded) for the process to end and for all of its output to be read.</summary>
    public bool WaitForExitAndOutput(TimeSpan bound)
    {
        if (!_process.WaitForExit(bound))
            return false;
        _process.WaitForExit(); // returns once the redirected streams are drained
        return true;
    }

    /// <summary>Runs the binary with these settings and arguments to its end (bounded); for one-shot modes.</summary>
    public static ServerProcess Run((string Name, string Value)[] env, params string[] args)
    {
        var process = Launch(env, args);
        if (!process.WaitForExitAndOutput(TimeSpan.FromSeconds(15)))
        {
            process.Dispose();
            throw new TimeoutException($"AotKvs {string.Join(' ', args)} did not exit within 15 s");
        }
        return process;
    }

    public int ExitCode => _process.ExitCode;

    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
                SendSignal("CONT"); // a frozen process cannot be reaped otherwise
        }
        catch (InvalidOperationException) { }
        Kill();
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }
}
