using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;

namespace AotKvs.Tests.Support;

/// <summary>
/// A certificate authority of the test's own, made with openssl in a temporary directory:
/// a server certificate for 127.0.0.1 that etcd presents, and a client certificate that etcd
/// requires (--client-cert-auth). Deleted on dispose.
/// </summary>
public sealed class EtcdTls : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvs-etcd-tls-").FullName;

    public EtcdTls()
    {
        OpenSsl("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kvs-test-ca -keyout ca.key -out ca.crt");
        // clientAuth too: etcd's JSON gateway calls etcd's own gRPC server with this certificate.
        Issue("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth");
        Issue("client", "extendedKeyUsage=clientAuth");
        // Another CA that signed nothing here: a main trusting only it must refuse etcd.
        OpenSsl("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kvs-other-ca -keyout other-ca.key -out other-ca.crt");
    }

    public string CaFile => Path.Combine(_dir, "ca.crt");
    public string OtherCaFile => Path.Combine(_dir, "other-ca.crt");
    public string ClientCertFile => Path.Combine(_dir, "client.crt");
    public string ClientKeyFile => Path.Combine(_dir, "client.key");

    /// <summary>etcd's flags for TLS on its client URLs, with client certificates required.</summary>
    public string ServerArgs =>
        $"--cert-file {Path.Combine(_dir, "server.crt")} --key-file {Path.Combine(_dir, "server.key")} --client-cert-auth --trusted-ca-file {CaFile}";

    /// <summary>A handler for the tests' own calls to etcd: trusts this CA, presents the client certificate.</summary>
    public static HttpMessageHandler Handler(EtcdTls? tls)
    {
        var handler = new SocketsHttpHandler();
        if (tls is null)
            return handler;
        var ca = X509CertificateLoader.LoadCertificateFromFile(tls.CaFile);
        handler.SslOptions.ClientCertificates = [X509Certificate2.CreateFromPemFile(tls.ClientCertFile, tls.ClientKeyFile)];
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            return certificate is X509Certificate2 server && chain.Build(server);
        };
        return handler;
    }

    private void Issue(string name, string extensions)
    {
        File.WriteAllText(Path.Combine(_dir, name + ".ext"), extensions + "\n");
        OpenSsl($"req -newkey rsa:2048 -nodes -subj /CN=kvs-test-{name} -keyout {name}.key -out {name}.csr");
        OpenSsl($"x509 -req -in {name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile {name}.ext -out {name}.crt");
    }

    private void OpenSsl(string args)
    {
        var info = new ProcessStartInfo("openssl") { WorkingDirectory = _dir, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args.Split(' '))
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var errors = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(30_000) || process.ExitCode != 0)
            throw new InvalidOperationException($"openssl {args}: {errors.Result}");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
