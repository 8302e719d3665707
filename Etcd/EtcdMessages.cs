using System.Text.Json.Serialization;

namespace AotKvs.Etcd;

// The few messages of etcd's v3 JSON gateway this store speaks. Keys and values are bytes,
// which the gateway (and System.Text.Json) write as base64; int64 fields arrive as strings.

internal sealed record RangeRequest(byte[] Key);

internal sealed record PutRequest(byte[] Key, byte[] Value, bool PrevKv);

internal sealed record DeleteRangeRequest(byte[] Key);

internal sealed record AuthenticateRequest(string Name, string Password);

internal sealed record KeyValue(byte[]? Key, byte[]? Value);

/// <summary>No "kvs" when the key does not exist.</summary>
internal sealed record RangeResponse(KeyValue[]? Kvs);

/// <summary>"prev_kv" only when the put replaced a value.</summary>
internal sealed record PutResponse(KeyValue? PrevKv);

/// <summary>"deleted" is absent when nothing was deleted.</summary>
internal sealed record DeleteRangeResponse(long Deleted);

internal sealed record AuthenticateResponse(string? Token);

/// <summary>Any gateway error: the gRPC status code and etcd's message.</summary>
internal sealed record GatewayError(int Code, string? Message, string? Error);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowReadingFromString,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RangeRequest))]
[JsonSerializable(typeof(PutRequest))]
[JsonSerializable(typeof(DeleteRangeRequest))]
[JsonSerializable(typeof(AuthenticateRequest))]
[JsonSerializable(typeof(RangeResponse))]
[JsonSerializable(typeof(PutResponse))]
[JsonSerializable(typeof(DeleteRangeResponse))]
[JsonSerializable(typeof(AuthenticateResponse))]
[JsonSerializable(typeof(GatewayError))]
internal sealed partial class EtcdJson : JsonSerializerContext;
