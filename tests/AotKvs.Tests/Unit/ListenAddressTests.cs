using AotKvs.Configuration;
using Microsoft.Extensions.Configuration;
using Xunit;

namespace AotKvs.Tests.Unit;

[Trait("Category", "Unit")]
public sealed class ListenAddressTests
{
    [Theory]
    [InlineData(null, null, null, "http://127.0.0.1:8090/healthz")]
    [InlineData("9000", "http://127.0.0.1:1", "1", "http://127.0.0.1:9000/healthz")]
    [InlineData(null, "http://*:9001", null, "http://127.0.0.1:9001/healthz")]
    [InlineData(null, "http://+:9002;http://*:9003", null, "http://127.0.0.1:9002/healthz")]
    [InlineData(null, "http://0.0.0.0:9004", null, "http://127.0.0.1:9004/healthz")]
    [InlineData(null, "http://[::]:9005", null, "http://127.0.0.1:9005/healthz")]
    [InlineData(null, "http://10.1.2.3:9006", null, "http://10.1.2.3:9006/healthz")]
    [InlineData(null, null, "8091", "http://127.0.0.1:8091/healthz")]
    public void Healthcheck_probes_where_the_server_listens(string? kvsPort, string? urls, string? httpPorts, string expected)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["KVS_PORT"] = kvsPort,
            ["urls"] = urls,
            ["http_ports"] = httpPorts,
        }).Build();
        var options = ServiceOptions.Load(config);
        Assert.Equal(new Uri(expected), ListenAddress.HealthUri(config, options));
    }
}
