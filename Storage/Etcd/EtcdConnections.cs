using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using AotKvs.Configuration;
using AotKvs.Protocol;

namespace AotKvs.Storage.Etcd;

/// <summary>
/// How a main connects to its etcd cluster: etcd's gRPC API, every call multiplexed on one
/// HTTP/2 connection per endpoint (cleartext with etcd://, TLS with etcd+https:// and the
/// cluster's CA and our client certificate), connecting within the store bound.
/// </summary>
internal static class EtcdConnections
{
    public static SocketsHttpHandler CreateHandler(StoreSettings settings)
    {
        var handler = LeanHttpHandler.Create(settings.Timeout, pooledIdleTimeout: TimeSpan.FromMinutes(5));
        handler.EnableMultipleHttp2Connections = false;
        if (settings.UsesTls)
            handler.SslOptions = TlsOptions(settings);
        return handler;
    }

    private static SslClientAuthenticationOptions TlsOptions(StoreSettings settings)
    {
        var options = new SslClientAuthenticationOptions();
        if (settings.CertFile is { } certFile)
            options.ClientCertificates = [X509Certificate2.CreateFromPemFile(certFile, settings.KeyFile)];
        if (settings.CaFile is { } caFile)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(caFile);
            options.RemoteCertificateValidationCallback = (_, certificate, _, errors) => ChainsTo(roots, certificate, errors);
        }
        return options;
    }

    /// <summary>
    /// The server's certificate must chain to one of the configured CAs (and only to them);
    /// its name must still match the endpoint.
    /// </summary>
    private static bool ChainsTo(X509Certificate2Collection roots, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        using var server = new X509Certificate2(certificate);
        return chain.Build(server);
    }
}
