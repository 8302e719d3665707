using System.Text.Json.Serialization;

namespace AotKvs;

/// <summary>Body of every success answer that carries no value.</summary>
internal sealed record ResultBody(string Result);

/// <summary>Body of every error answer.</summary>
internal sealed record ErrorBody(string Error);

/// <summary>
/// Source-generated serializers (no reflection, so Native AOT stays warning-free).
/// Bodies are serialized once at start-up into constant byte arrays; see <see cref="Endpoints.Responses"/>.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ResultBody))]
[JsonSerializable(typeof(ErrorBody))]
internal sealed partial class JsonContext : JsonSerializerContext;
