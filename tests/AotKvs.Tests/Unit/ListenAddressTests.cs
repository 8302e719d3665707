using AotKvs.Configuration;
using Microsoft.AspNetCore.Builder;
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

/// <summary>Where the server is told to listen: --port/KVS_PORT, else the host's own settings, else 8090.</summary>
[Trait("Category", "Unit")]
public sealed class ListenAddressApplyTests
{
    [Theory]
    [InlineData("9000", null, null, null, "http://*:9000")]
    [InlineData("9000", "http://127.0.0.1:1", null, null, "http://*:9000")]
    [InlineData(null, null, null, null, "http://*:8090")]
    [InlineData(null, "http://127.0.0.1:1", null, null, "http://127.0.0.1:1")]
    [InlineData(null, null, "8091", null, null)]
    [InlineData(null, null, null, "8443", null)]
    public void Port_wins_else_the_host_settings_else_8090(string? kvsPort, string? urls, string? httpPorts, string? httpsPorts, string? expected)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["KVS_PORT"] = kvsPort,
            ["urls"] = urls,
            ["http_ports"] = httpPorts,
            ["https_ports"] = httpsPorts,
        });
        ListenAddress.Apply(builder, ServiceOptions.Load(builder.Configuration));
        Assert.Equal(expected, builder.WebHost.GetSetting("urls"));
    }

    [Theory]
    [InlineData(" http://10.1.2.3:9010 ; http://*:9011", "http://10.1.2.3:9010/healthz")]
    [InlineData(";http://*:9012", "http://127.0.0.1:9012/healthz")]
    [InlineData("not a url", "http://127.0.0.1:8090/healthz")]
    public void Healthcheck_takes_the_first_url(string urls, string expected)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["urls"] = urls }).Build();
        Assert.Equal(new Uri(expected), ListenAddress.HealthUri(config, ServiceOptions.Load(config)));
    }
}
