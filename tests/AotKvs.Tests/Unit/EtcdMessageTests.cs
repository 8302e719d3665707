using System.Text;
using System.Text.Json;
using AotKvs.Configuration;
using AotKvs.Etcd;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>KVS_STORE's parsing, and the etcd gateway's messages as this store writes and reads them.</summary>
[Trait("Category", "Unit")]
public sealed class EtcdMessageTests
{
    [Theory]
    [InlineData("etcd://127.0.0.1:2379", "http://127.0.0.1:2379/")]
    [InlineData("etcd://a:1, b:2 ,c:3", "http://a:1/ http://b:2/ http://c:3/")]
    [InlineData("etcd+https://etcd-0.example:2379", "https://etcd-0.example:2379/")]
    [InlineData("ETCD://[::1]:2379", "http://[::1]:2379/")]
    public void Store_endpoints_parse(string value, string expected) =>
        Assert.Equal(expected, string.Join(' ', StoreSettings.ParseEndpoints(value)));

    [Theory]
    [InlineData("etcd://")]
    [InlineData("etcd://a")]
    [InlineData("etcd://a:1,,b:2")]
    [InlineData("etcd://a:1/x")]
    [InlineData("etcd://a:99999")]
    [InlineData("http://a:1")]
    [InlineData("etcd+http://a:1")]
    public void Bad_store_values_are_refused_with_the_setting_named(string value) =>
        Assert.Contains("KVS_STORE", Assert.Throws<InvalidSettingException>(() => StoreSettings.ParseEndpoints(value)).Message);

    [Fact]
    public void A_put_carries_prefix_and_key_and_the_exact_value_text_in_base64_and_asks_for_the_previous_value()
    {
        var message = JsonDocument.Parse(EtcdJson.Put("/kvs/"u8, "café"u8, """{"n": 1.50}"""u8)).RootElement;
        Assert.Equal("/kvs/café", Encoding.UTF8.GetString(message.GetProperty("key").GetBytesFromBase64()));
        Assert.Equal("""{"n": 1.50}""", Encoding.UTF8.GetString(message.GetProperty("value").GetBytesFromBase64()));
        Assert.True(message.GetProperty("prev_kv").GetBoolean());

        var range = JsonDocument.Parse(EtcdJson.KeyOnly("/p/"u8, new byte[400])).RootElement;
        Assert.Equal(403, range.GetProperty("key").GetBytesFromBase64().Length);
        Assert.Single(range.EnumerateObject());
    }

    [Fact]
    public void Answers_are_read_as_the_gateway_writes_them()
    {
        const string Header = "{\"header\":{\"cluster_id\":\"1\",\"member_id\":\"2\",\"revision\":\"9\",\"raft_term\":\"2\"}";
        static byte[] Answer(string rest) => Encoding.UTF8.GetBytes(Header + rest + "}");

        Assert.Null(EtcdJson.RangeValue(Answer("")));
        var found = Answer(",\"kvs\":[{\"key\":\"YQ==\",\"create_revision\":\"5\",\"mod_revision\":\"9\",\"version\":\"2\",\"value\":\"WzEsMl0=\"}],\"count\":\"1\"");
        Assert.Equal("[1,2]", Encoding.UTF8.GetString(EtcdJson.RangeValue(found)!));

        Assert.False(EtcdJson.HasPreviousValue(Answer("")));
        Assert.True(EtcdJson.HasPreviousValue(Answer(",\"prev_kv\":{\"key\":\"YQ==\",\"value\":\"MQ==\"}")));

        Assert.Equal(0, EtcdJson.Deleted(Answer("")));
        Assert.Equal(1, EtcdJson.Deleted(Answer(",\"deleted\":\"1\"")));

        Assert.Equal((3, "etcdserver: request is too large"),
            EtcdJson.Error("""{"error":"etcdserver: request is too large","message":"etcdserver: request is too large","code":3}"""u8.ToArray()));
        Assert.Equal(-1, EtcdJson.Error("<html>"u8.ToArray()).Code);
        Assert.Equal("tok.42", EtcdJson.Token("""{"header":{},"token":"tok.42"}"""u8.ToArray()));
    }
}
