using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace AotKvs.Tests.Support;

/// <summary>
/// Real etcd processes (Debian's etcd-server, etcd 3.4) on free loopback ports, each with a
/// data directory of its own that is deleted on dispose: one node, or three for the fault
/// tests. Members can be killed, started again on the same ports with the data they had,
/// frozen and thawed. Never a mock.
/// </summary>
public sealed class EtcdCluster : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kvs-etcd-").FullName;
    private readonly Member[] _members = [];
    private readonly EtcdTls? _tls;

    /// <summary>
    /// A port the OS called free can be taken by a parallel test before etcd binds it; then
    /// the member exits saying so, and the cluster starts again on other ports.
    /// </summary>
    private EtcdCluster(int nodes, EtcdTls? tls)
    {
        _tls = tls;
        for (var attempt = 1; ; attempt++)
        {
            _members = [.. Enumerable.Range(0, nodes).Select(i => new Member($"n{i}", FreePort.Next(), FreePort.Next(), Path.Combine(_root, $"try{attempt}-n{i}"), tls is not null))];
            foreach (var member in _members)
                Launch(member);
            try
            {
                WaitUntilServing(TimeSpan.FromSeconds(30));
                return;
            }
            catch (InvalidOperationException e) when (attempt < 4 && e.Message.Contains("address already in use", StringComparison.Ordinal))
            {
                for (var i = 0; i < _members.Length; i++)
                    Kill(i);
            }
        }
    }

    public static EtcdCluster Start(int nodes = 1, EtcdTls? tls = null) => new(nodes, tls);

    public int Count => _members.Length;

    /// <summary>KVS_STORE for a main over this cluster: every member, in order.</summary>
    public string StoreSetting => (_members[0].Tls ? "etcd+https://" : "etcd://") + string.Join(',', _members.Select(m => $"127.0.0.1:{m.ClientPort}"));

    public Uri ClientUri(int member) => new(_members[member].ClientUrl);

    /// <summary>Kills a member at once (SIGKILL: no goodbye to its peers).</summary>
    public void Kill(int member)
    {
        var process = _members[member].Process!;
        if (!process.HasExited)
        {
            process.Kill();
            process.WaitForExit(5000);
        }
    }

    /// <summary>A killed member again, on its ports and with its data.</summary>
    public void Restart(int member) => Launch(_members[member]);

    public void Freeze(int member) => Signal(member, "STOP");

    public void Thaw(int member) => Signal(member, "CONT");

    /// <summary>The index of the member the others follow, asked of the members that answer (bounded).</summary>
    public int Leader(TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        while (clock.Elapsed < bound)
        {
            foreach (var member in _members)
            {
                try
                {
                    using var answer = http.PostAsync(member.ClientUrl + "/v3/maintenance/status", new StringContent("{}")).Result;
                    using var status = JsonDocument.Parse(answer.Content.ReadAsStringAsync().Result);
                    if (status.RootElement.TryGetProperty("leader", out var leader) && leader.GetString() is { } id && id != "0")
                        for (var i = 0; i < _members.Length; i++)
                            if (MemberId(i, http) == id)
                                return i;
                }
                catch (Exception e) when (e is HttpRequestException or AggregateException or TaskCanceledException or JsonException)
                {
                }
            }
            Thread.Sleep(50);
        }
        throw new TimeoutException("no etcd leader within " + bound);
    }

    private string? MemberId(int member, HttpClient http)
    {
        try
        {
            using var answer = http.PostAsync(_members[member].ClientUrl + "/v3/maintenance/status", new StringContent("{}")).Result;
            using var status = JsonDocument.Parse(answer.Content.ReadAsStringAsync().Result);
            return status.RootElement.GetProperty("header").GetProperty("member_id").GetString();
        }
        catch (Exception e) when (e is HttpRequestException or AggregateException or TaskCanceledException or JsonException or KeyNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Until every member's gateway answers a linearizable read (bounded).</summary>
    public void WaitUntilServing(TimeSpan bound)
    {
        using var http = new HttpClient(EtcdTls.Handler(_tls)) { Timeout = TimeSpan.FromSeconds(1) };
        foreach (var member in _members)
        {
            var served = Poll.Until(() =>
            {
                if (member.Process!.HasExited)
                    throw new InvalidOperationException($"etcd {member.Name} exited:\n{member.Output}");
                try
                {
                    using var answer = http.PostAsync(member.ClientUrl + "/v3/kv/range", new StringContent("{\"key\":\"AA==\"}")).Result;
                    return answer.IsSuccessStatusCode;
                }
                catch (AggregateException)
                {
                    return false;
                }
            }, bound);
            if (!served)
                throw new TimeoutException($"etcd {member.Name} did not serve within {bound}:\n{member.Output}");
        }
    }

    /// <summary>A call to one member's JSON gateway, for set-up (users, auth) and for reading what etcd holds.</summary>
    public string Call(int member, string path, object body, string? token = null)
    {
        using var http = new HttpClient(EtcdTls.Handler(_tls)) { Timeout = TimeSpan.FromSeconds(5) };
        using var request = new HttpRequestMessage(HttpMethod.Post, _members[member].ClientUrl + path) { Content = JsonContent.Create(body) };
        if (token is not null)
            request.Headers.TryAddWithoutValidation("Authorization", token);
        using var answer = http.Send(request);
        var text = answer.Content.ReadAsStringAsync().Result;
        if (!answer.IsSuccessStatusCode)
            throw new InvalidOperationException($"etcd {path}: {(int)answer.StatusCode} {text}");
        return text;
    }

    public static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private void Launch(Member member)
    {
        var cluster = string.Join(',', _members.Select(m => $"{m.Name}={m.PeerUrl}"));
        var info = new ProcessStartInfo("etcd")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Short heartbeats so that a killed leader is replaced within about a second.
        var args = $"--name {member.Name} --data-dir {member.DataDir} --log-level warn " +
            $"--listen-client-urls {member.ClientUrl} --advertise-client-urls {member.ClientUrl} " +
            $"--listen-peer-urls {member.PeerUrl} --initial-advertise-peer-urls {member.PeerUrl} " +
            $"--initial-cluster {cluster} --initial-cluster-token kvs-test --heartbeat-interval 50 --election-timeout 500 " +
            (_tls?.ServerArgs ?? "");
        foreach (var arg in args.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            info.ArgumentList.Add(arg);
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("etcd is not installed: scripts/test.sh installs it (apt-get install etcd-server)", e);
        }
        member.Attach(process);
    }

    private void Signal(int member, string name)
    {
        using var kill = Process.Start("kill", [$"-{name}", _members[member].Process!.Id.ToString()]);
        kill.WaitForExit();
    }

    public void Dispose()
    {
        foreach (var member in _members)
        {
            if (member.Process is { HasExited: false } process)
            {
                Signal(Array.IndexOf(_members, member), "CONT");
                process.Kill();
                process.WaitForExit(5000);
            }
            member.Process?.Dispose();
        }
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class Member(string name, int clientPort, int peerPort, string dataDir, bool tls)
    {
        private readonly StringBuilder _output = new();

        public string Name => name;
        public int ClientPort => clientPort;
        public bool Tls => tls;
        public string ClientUrl => $"{(tls ? "https" : "http")}://127.0.0.1:{clientPort}";
        public string PeerUrl => $"http://127.0.0.1:{peerPort}";
        public string DataDir => dataDir;
        public Process? Process { get; private set; }

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        public void Attach(Process process)
        {
            Process?.Dispose();
            Process = process;
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        private void Append(string? line)
        {
            if (line is null) return;
            lock (_output) _output.AppendLine(line);
        }
    }
}
